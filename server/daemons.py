"""The long-running daemons ``mailarchive serve`` starts together (web, SMTP receiver, ...).

A service module exposes ``start(config) -> Service``; add it to ``SERVICES`` to have
``make run`` start it. Each service opens its own store handle.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from server.config import Config


class Service(Protocol):
    name: str

    def describe(self) -> str:
        """One line for the console: where it listens and how to use it."""

    def stop(self) -> None: ...


# (name, "module:function")
SERVICES: list[tuple[str, str]] = [
    ("smtp", "server.indexing.smtp:start"),
    ("web", "server.web.service:start"),
]


def start_all(config: Config, only: set[str] | None = None) -> list[Service]:
    started: list[Service] = []
    try:
        for name, target in SERVICES:
            if only and name not in only:
                continue
            module, func = target.split(":")
            started.append(getattr(importlib.import_module(module), func)(config))
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        service.stop()
