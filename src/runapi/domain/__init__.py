"""Typed domain objects shared by every layer (tasks, providers, observability, the web layer). A leaf: nothing
here imports the rest of runapi at run time, so any package may import it without making an import cycle."""
