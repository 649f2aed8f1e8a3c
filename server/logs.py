"""Module loggers that import ``logging`` only when a record could go somewhere.

``logging`` (with traceback, textwrap and string) is ~10 ms of a command-line search's start-up,
and the modules a search runs through each keep a logger for the rare failure. ``logger(name)``
stands in for ``logging.getLogger(name)``: warnings and errors always go to the real logger (so
logging's last-resort handler still prints them to stderr), while debug and info records are
passed on only when ``logging`` has been imported. Until then nothing can have configured a
handler or a level, and an unconfigured root logger drops them, so the outcome is the same.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    import logging
    from typing import Any


class LazyLogger:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def target(self) -> logging.Logger:
        import logging

        return logging.getLogger(self.name)

    def __getattr__(self, attribute: str) -> Any:  # the rest of Logger (critical, setLevel...) as it is
        return getattr(self.target(), attribute)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if "logging" in sys.modules:
            self.target().debug(msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if "logging" in sys.modules:
            self.target().info(msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.target().warning(msg, *args, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.target().error(msg, *args, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.target().exception(msg, *args, **kwargs)


def logger(name: str) -> LazyLogger:
    """The logger ``name`` (as ``logging.getLogger(name)``), loading ``logging`` on first need."""
    return LazyLogger(name)
