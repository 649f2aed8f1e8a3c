"""Who performs an operation: the name, role and address every audit entry records.

The edges build one per call: the web from the signed-in user and the client address, the CLI
with ``Actor.cli()`` (the operator on the server itself), pop3d from the POP3 account and peer,
RQ jobs from the actor that submitted the task (kept in the task document).
"""

from __future__ import annotations

from server.roles import Role
from server.tuples import NamedTuple

OPERATOR = "operator"  # the role of commands run on the server itself (trusted like root)
CLI_NAME = "cli"
ANONYMOUS_NAME_BYTES = 256  # a name typed by someone not signed in is cut to this before it is logged


def bounded_name(text: str, limit: int = ANONYMOUS_NAME_BYTES) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, with a note of its original length when cut.

    Anonymous input goes into the append-only audit log, which nothing may shrink: unbounded it
    would let anyone grow the log by megabytes per request.
    """
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore") + f"…[{len(raw)} bytes]"


class Actor(NamedTuple):
    name: str
    role: str
    source_ip: str = ""

    @classmethod
    def cli(cls) -> Actor:
        """The operator at the server's shell: may do what any console role may (not more)."""
        return cls(CLI_NAME, OPERATOR)

    @classmethod
    def anonymous(cls, source_ip: str = "", name: str = "anonymous") -> Actor:
        """Not signed in (a failed sign-in records the name that was tried)."""
        return cls(bounded_name(name) or "anonymous", "", source_ip)

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    def may(self, *roles: str) -> bool:
        """Whether this actor holds one of ``roles``; the operator holds all of them."""
        return self.is_operator or self.role in roles


ARCHIVE_READERS = (Role.ARCHIVE_ADMIN,)
AUDIT_READERS = (Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN)
