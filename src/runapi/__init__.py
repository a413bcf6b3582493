"""runapi: a self-hostable RunAPI platform."""

__version__ = "0.1.0"
