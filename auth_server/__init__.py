"""The centralized authentication server."""

__version__ = "0.1.0"
