from .db import Database
from . import schema

__all__ = ["Database", "schema"]
