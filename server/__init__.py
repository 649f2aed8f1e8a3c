"""Enterprise mail archive server."""

__version__ = "0.1.0"
