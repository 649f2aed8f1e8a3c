"""The long-running daemons ``mailarchive serve`` starts together (web, SMTP receiver, ...).

Two phases, so a failed start leaves nothing behind: every daemon first *binds* its listeners
(``bind(config) -> Daemon``, which must create nothing: no store, no users, no files), and only
once all of them are bound are they *started* (``Daemon.start()``: open the store, create the first
users, start threads and child processes). A port already in use therefore stops ``serve`` with one
line naming the address and the variable to change, before the data directory is touched.

To add a daemon (POP3, the RQ worker with its embedded Redis, ...): write a module with
``bind(config) -> Daemon`` (use ``listen()`` for each socket), and add a line to ``DAEMONS``.
A daemon without a listener simply binds nothing. Each daemon opens its own store handle.
"""

from __future__ import annotations

import errno
import importlib
import socket
from collections.abc import Iterable
from typing import Protocol

from server.config import Config

# (name, "module:bind function"), in start order. ``serve --only`` picks from the names.
# The worker comes first: it brings up the embedded Redis the others enqueue to, and stops last.
DAEMONS: list[tuple[str, str]] = [
    ("worker", "server.jobs.daemon:bind"),
    ("smtp", "server.indexing.smtp:bind"),
    ("pop3", "pop3d.daemon:bind"),
    ("web", "server.web.service:bind"),
]


class Daemon(Protocol):
    name: str

    def start(self) -> object:
        """Initialise (store, users, spool, child processes) and serve; called after every daemon bound."""

    def describe(self) -> str:
        """Lines for the console: every address it listens on and how to use it."""

    def stop(self) -> None:
        """Stop serving; before ``start()`` it closes the bound listeners."""


class ListenError(Exception):
    """A listener cannot be bound; the message is one line naming the address and the variable."""


_PORT_PROBLEMS = {errno.EADDRINUSE: "address already in use", errno.EACCES: "permission denied"}


def listen(host: str, port: int, *, what: str, port_variable: str, bind_variable: str) -> socket.socket:
    """A bound, listening TCP socket for ``host:port`` (port 0: a free one), or ``ListenError``.

    ``what`` ("the web console") and the two variable names go into the error, so the operator
    knows which setting to change without reading a traceback.
    """
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {address} for {what}: {exc.strerror} (check {bind_variable})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart while old connections linger
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = _PORT_PROBLEMS.get(exc.errno or 0)
        if reason is None:
            hint = f"check {bind_variable}"
            reason = exc.strerror or str(exc)
        elif exc.errno == errno.EACCES:
            hint = f"set {port_variable} to a port above 1023, or run with the right to bind it"
        else:
            hint = f"set {port_variable} to another port, or stop what is listening there"
        raise ListenError(f"cannot listen on {address} for {what}: {reason.lower()} ({hint})") from None
    return sock


def address_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def names() -> list[str]:
    return [name for name, _ in DAEMONS]


def bind_all(config: Config, only: Iterable[str] | None = None) -> list[Daemon]:
    """Phase one: every selected daemon's listeners bound, nothing created. On a failure the
    listeners bound so far are closed again and the error propagates."""
    wanted = set(only) if only else None
    bound: list[Daemon] = []
    try:
        for name, target in DAEMONS:
            if wanted is not None and name not in wanted:
                continue
            module, func = target.split(":")
            bound.append(getattr(importlib.import_module(module), func)(config))
    except BaseException:
        stop_all(bound)
        raise
    return bound


class StartError(Exception):
    """A daemon could not start for a reason outside the program (a spool directory that cannot be
    made, a certificate file that cannot be read); one line naming the daemon."""


def start_all(daemons: list[Daemon]) -> list[Daemon]:
    """Phase two: start each bound daemon in order; on a failure stop them all (started or not).

    Keep the daemon that creates the first users (web) last: if another fails to start, no
    password has been generated that nobody will see."""
    try:
        for daemon in daemons:
            try:
                daemon.start()
            except OSError as exc:
                raise StartError(f"cannot start {daemon.name}: {exc}") from exc
    except BaseException:
        stop_all(daemons)
        raise
    return daemons


def stop_all(daemons: list[Daemon]) -> None:
    for daemon in reversed(daemons):
        daemon.stop()
