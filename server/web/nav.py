"""The left navigation of the console, as a list other page groups append one line to.

An entry is shown only if its endpoint exists and the signed-in user's role may open it, read from
the endpoint's own access declaration (server.web.roles): the menu can never disagree with the
server-side check. Labels are English keys translated by server.web.i18n.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for

from server.web.i18n import t
from server.web.roles import allows, current_role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str  # English; translated when shown
    section: str  # English section heading


ARCHIVING = "Mail Archiving"
ADMINISTRATION = "Administration"
ACCOUNT = "My account"

# Order is display order. Add one line per page (the search helper adds "Query Archived Mail" here).
NAV: list[NavItem] = [
    NavItem("search.search", "Query Archived Mail", ARCHIVING),
    NavItem("exports.page", "Task Center", ARCHIVING),
    NavItem("archiving.manage", "Archive Mail Management", ARCHIVING),
    NavItem("archiving.summary", "Archive summary", ARCHIVING),
    NavItem("pop3.page", "Third-party Archive Integration", ARCHIVING),
    NavItem("retention.settings", "Retention period", ARCHIVING),
    NavItem("retention.holds", "Legal holds", ARCHIVING),
    NavItem("audit.page", "Archive Log Query", "Statistics & Logs"),
    NavItem("ops.dashboard", "Ops dashboard", "Statistics & Logs"),
    NavItem("admin.users", "Users and roles", ADMINISTRATION),
    NavItem("auth.account", "Change password", ACCOUNT),
    NavItem("tokens.page", "API tokens", ACCOUNT),
]


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str
    active: bool


def nav_sections() -> list[tuple[str, list[NavLink]]]:
    """[(translated section, [links])] the current user may open, sections in first-use order."""
    role = current_role()
    sections: dict[str, list[NavLink]] = {}
    for item in NAV:
        if not allows(item.endpoint, role):
            continue
        link = NavLink(url_for(item.endpoint), t(item.label), request.endpoint == item.endpoint)
        sections.setdefault(t(item.section), []).append(link)
    return list(sections.items())


def first_page(role: str | None) -> str | None:
    """Endpoint of the first menu entry (outside "My account") the role may open: its landing page."""
    for item in NAV:
        if item.section != ACCOUNT and allows(item.endpoint, role):
            return item.endpoint
    return None


def init_app(app: Flask) -> None:
    app.jinja_env.globals["nav_sections"] = nav_sections
