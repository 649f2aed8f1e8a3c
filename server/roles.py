"""The console roles (separation of duties: ``server.users`` holds the rules that use them).

Apart from ``server.users`` so that code which only checks a role (``server.services.actor``, on
every command) does not load the user records, password links and tokens.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    POSTMASTER = "postmaster"
    EMAIL_ADMIN = "email-admin"
    ARCHIVE_ADMIN = "archive-admin"
