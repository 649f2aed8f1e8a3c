"""English and Simplified Chinese for the console, and times in the archive's time zone.

The English text is the key: templates write ``{{ _("Archive summary") }}`` and the catalog
``locales/<lang>/*.json`` maps it to the translation (missing: English is shown). Each page group
keeps its strings in its own JSON file (``core.json``, ``search.json``, ...), so helpers add
translations without touching each other's files. Placeholders use ``%(name)s``.

The language comes from the ``lang`` cookie set by the switch in the top bar, else from the
browser's Accept-Language.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Flask, abort, g, redirect, request, url_for

from server.archiving import archive_timezone
from server.model import parse_time
from server.web.context import local_path, services
from server.web.roles import public

LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"
LOCALES = Path(__file__).parent / "locales"

bp = Blueprint("i18n", __name__)


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """Every JSON file of the language merged (read once per process)."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def current_language() -> str:
    if "lang" not in g:
        chosen = request.cookies.get(COOKIE)
        if chosen not in LANGUAGES:
            best = request.accept_languages.best_match(["en", "zh-CN", "zh", "zh-Hans"], default=DEFAULT_LANGUAGE)
            chosen = "zh-CN" if best.startswith("zh") else "en"
        g.lang = chosen
    return g.lang


def t(text: str, **values: object) -> str:
    """``text`` in the current language; ``%(name)s`` placeholders filled from ``values``."""
    translated = catalog(current_language()).get(text, text) if current_language() != DEFAULT_LANGUAGE else text
    return translated % values if values else translated


_ = t


def tn(singular: str, plural: str, count: int, **values: object) -> str:
    """``singular`` or ``plural`` by ``count`` ("1 message found", "2 messages found") in the
    current language; ``%(n)s`` is the count unless given. Chinese has one form: its catalog
    translates the plural key (the singular key is used if that is the one translated)."""
    values.setdefault("n", count)
    key = singular if count == 1 else plural
    if current_language() != DEFAULT_LANGUAGE:
        found = catalog(current_language())
        key = found.get(key) or found.get(plural) or key
    return key % values


ROLE_LABELS = {
    "postmaster": "Postmaster",
    "email-admin": "Email administrator",
    "archive-admin": "Archive administrator",
    "": "No role",
}


def role_label(role: str) -> str:
    return t(ROLE_LABELS.get(role, role))


def timezone() -> ZoneInfo:
    if "tz" not in g:
        name = archive_timezone(services().store, services().config)
        try:
            g.tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            g.tz = ZoneInfo("UTC")
    return g.tz


def localtime(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M:%S", *, zone: bool = False) -> str:
    """A stored UTC time (datetime or ISO text) shown in the archive's time zone; "—" when unset.

    ``zone``: followed by the zone's name, so a reader knows which clock it is. Years always have
    four digits (``strftime`` writes year 800 as ``800``).
    """
    if not value:
        return "—"
    moment = (parse_time(value) if isinstance(value, str) else value).astimezone(timezone())
    text = moment.strftime(fmt.replace("%Y", f"{moment.year:04d}"))
    return f"{text} {zone_label()}" if zone else text


def zone_label() -> str:
    """The archive's time zone as the console names it next to times (``Asia/Shanghai``, ``UTC``)."""
    return timezone().key


@bp.get("/lang/<code>")
@public
def switch(code: str):  # noqa: ANN201
    if code not in LANGUAGES:
        abort(404)
    response = redirect(local_path(request.args.get("next")) or url_for("auth.home"))
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        _=t, t=t, ngettext=tn, current_language=current_language, LANGUAGES=LANGUAGES, role_label=role_label,
        zone_label=zone_label,
    )
    app.jinja_env.filters["localtime"] = localtime
