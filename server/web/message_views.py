"""One archived message in the console: headers, text, the HTML body in a sandboxed frame,
attachments, and the original ``.eml``.

The HTML body is never part of the console page. It is served from its own URL, sanitized,
under a Content-Security-Policy that forbids scripts and everything remote, into an
``<iframe sandbox>`` without ``allow-scripts`` or ``allow-same-origin``: even markup the sanitizer
missed cannot run, reach the console's cookies or phone home. Remote images load only after the
reader clicks "show images" (``?images=1``).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from server.display.flags import Badge, badges
from server.display.labels import Title, title
from server.display.notes import message_notes
from server.display.source import source_text
from server.mailview import build_view, sanitize_html
from server.model import Message
from server.query.highlight import Marker
from server.web.context import actor, services
from server.web.mail_access import attachment_response, eml_response
from server.web.render import human_size
from server.web.roles import Role, require_role

bp = Blueprint("message", __name__)
BODY_CSP = "default-src 'none'; img-src data: cid: 'self'{remote}; style-src 'unsafe-inline'; frame-ancestors 'self'"
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"  # links open in a new tab, nothing else


@bp.app_template_global("message_badges")
def message_badges(message: Message) -> list[Badge]:
    """Flag and hold badges of a result row (templates/message/_badges.html)."""
    return badges(message)


@bp.app_template_global("message_title")
def message_title(message: Message) -> Title:
    """The subject, or what to show instead for mail without one (server/display/labels.py)."""
    return title(message)


def _images_allowed() -> bool:
    return request.args.get("images") == "1"


def _back() -> str:
    back = request.args.get("back", "")
    return back if back.startswith("/search") else ""


@bp.get("/messages/<message_id>")
@require_role(Role.ARCHIVE_ADMIN)
def view(message_id: str) -> ResponseReturnValue:
    images = _images_allowed()
    opened = services().archive.view(actor(), message_id, **({"remote_images": True} if images else {}))
    message, mail = opened.message, build_view(opened.raw)
    remote = sanitize_html(mail.html, cid_url=lambda c: None, allow_remote=False).remote_images if mail.html else 0
    marks = Marker.from_args(request.args.get("keyword"), request.args.get("scope"))
    return render_template(
        "message/view.html", message=message, mail=mail, remote_images=remote, images=images, marks=marks,
        notes=message_notes(message, opened.raw, mail), heading=title(message),
        body_url=url_for("message.body", message_id=message.id, images="1" if images else None,
                         view=opened.entry_seq, **marks.url_args()),
        source_url=url_for("message.source", message_id=message.id, back=_back() or None),
        sandbox=FRAME_SANDBOX, human_size=human_size, back=_back(),
    )  # fmt: skip


def _mail_response(document: str) -> Response:
    """A document of archived content: no script, nothing remote (see the module docstring)."""
    response = Response(document, mimetype="text/html")
    response.headers["Content-Security-Policy"] = BODY_CSP.format(remote="")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/messages/<message_id>/body")
@require_role(Role.ARCHIVE_ADMIN)
def body(message_id: str) -> ResponseReturnValue:
    """The sanitized HTML body, for the frame of the message page; covered by the page's audit
    entry when ``view`` names it (see ``ArchiveAccess.view_part`` and docs/audit.md)."""
    images = _images_allowed()
    opened = services().archive.view_part(actor(), message_id, request.args.get("view"), part="html",
                                          remote_images=images)  # fmt: skip
    mail = build_view(opened.raw)
    clean = sanitize_html(mail.html or "", cid_url=mail.images.get, allow_remote=images)
    marks = Marker.from_args(request.args.get("keyword"), request.args.get("scope"))
    response = _mail_response(render_template("message/body.html", html=marks.body_html(clean.html)))
    if images:
        response.headers["Content-Security-Policy"] = BODY_CSP.format(remote=" https: http:")
    return response


@bp.get("/messages/<message_id>/source")
@require_role(Role.ARCHIVE_ADMIN)
def source(message_id: str) -> ResponseReturnValue:
    """Headers and body as archived, as escaped text under the mail CSP (audited as a view of the
    source: it shows everything, including what the page view leaves out)."""
    opened = services().archive.view(actor(), message_id, part="source")
    shown = source_text(opened.raw)
    document = render_template(
        "message/source.html", message=opened.message, source=shown, heading=title(opened.message),
        human_size=human_size, page_url=url_for("message.view", message_id=message_id, back=_back() or None),
        eml_url=url_for("message.raw", message_id=message_id),
    )  # fmt: skip
    return _mail_response(document)


@bp.get("/messages/<message_id>/raw")
@require_role(Role.ARCHIVE_ADMIN)
def raw(message_id: str) -> ResponseReturnValue:
    return eml_response(message_id)


@bp.get("/messages/<message_id>/attachments/<int:index>")
@require_role(Role.ARCHIVE_ADMIN)
def attachment(message_id: str, index: int) -> ResponseReturnValue:
    return attachment_response(message_id, index, inline=request.args.get("inline") == "1")
