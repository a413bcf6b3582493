"""Generators for this family are added with its catalog file."""
