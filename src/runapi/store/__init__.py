from . import schema
from .db import Database
from .driver_errors import DatabaseUnavailable

__all__ = ["Database", "DatabaseUnavailable", "schema"]
