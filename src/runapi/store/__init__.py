from . import schema
from .availability import DatabaseUnavailable
from .db import Database

__all__ = ["Database", "DatabaseUnavailable", "schema"]
