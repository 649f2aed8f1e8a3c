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

from server.mailview import build_view, sanitize_html
from server.query.highlight import Marker
from server.web.context import actor, services
from server.web.mail_access import attachment_response, eml_response
from server.web.render import human_size
from server.web.roles import Role, require_role

bp = Blueprint("message", __name__)
BODY_CSP = "default-src 'none'; img-src data: cid: 'self'{remote}; style-src 'unsafe-inline'; frame-ancestors 'self'"
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"  # links open in a new tab, nothing else


def _images_allowed() -> bool:
    return request.args.get("images") == "1"


@bp.get("/messages/<message_id>")
@require_role(Role.ARCHIVE_ADMIN)
def view(message_id: str) -> ResponseReturnValue:
    opened = services().archive.view(actor(), message_id)
    message, mail = opened.message, build_view(opened.raw)
    remote = sanitize_html(mail.html, cid_url=lambda c: None, allow_remote=False).remote_images if mail.html else 0
    marks = Marker.from_args(request.args.get("keyword"), request.args.get("scope"))
    return render_template(
        "message/view.html", message=message, mail=mail, remote_images=remote, images=_images_allowed(), marks=marks,
        body_url=url_for("message.body", message_id=message.id, images="1" if _images_allowed() else None,
                         **marks.url_args()),
        sandbox=FRAME_SANDBOX, human_size=human_size,
        back=request.args.get("back", "") if request.args.get("back", "").startswith("/search") else "",
    )


@bp.get("/messages/<message_id>/body")
@require_role(Role.ARCHIVE_ADMIN)
def body(message_id: str) -> ResponseReturnValue:
    images = _images_allowed()
    opened = services().archive.view(actor(), message_id, part="html", remote_images=images)
    mail = build_view(opened.raw)
    clean = sanitize_html(mail.html or "", cid_url=mail.images.get, allow_remote=images)
    marks = Marker.from_args(request.args.get("keyword"), request.args.get("scope"))
    document = render_template("message/body.html", html=marks.body_html(clean.html))
    response = Response(document, mimetype="text/html")
    response.headers["Content-Security-Policy"] = BODY_CSP.format(remote=" https: http:" if images else "")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/messages/<message_id>/raw")
@require_role(Role.ARCHIVE_ADMIN)
def raw(message_id: str) -> ResponseReturnValue:
    return eml_response(message_id)


@bp.get("/messages/<message_id>/attachments/<int:index>")
@require_role(Role.ARCHIVE_ADMIN)
def attachment(message_id: str, index: int) -> ResponseReturnValue:
    return attachment_response(message_id, index, inline=request.args.get("inline") == "1")
