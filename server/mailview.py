"""An archived message prepared for reading: headers, text, sanitized HTML, attachments by number.

Archived mail is hostile input shown to the people with the most access. Defence in depth:
the HTML is sanitized here with nh3 (Rust's ammonia, maintained) against an allow-list, remote
images are replaced by a placeholder unless the reader asks for them (they are tracking beacons),
and the web layer serves the result from its own URL into an ``<iframe sandbox>`` under a strict
Content-Security-Policy, so a sanitizer gap still runs no script and loads nothing remote.

Attachment numbers are those of ``Message.attachments``: the same MIME walk
(``server.indexing.mime.collect_parts``) over the same parser's tree as at ingestion.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import nh3

from server.indexing.charsets import MessageCharsets, decode_bytes, decode_header
from server.indexing.mime import attachment_payload, collect_parts, html_to_text
from server.indexing.tree import message_tree
from server.model import Attachment

MAIN_HEADERS = ("from", "to", "cc", "bcc", "reply-to", "date", "subject", "message-id")
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf", "text/plain")
BLOCKED_IMAGE = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='24' height='24'%3E"
    "%3Crect width='24' height='24' fill='%23ddd'/%3E%3Cpath d='M4 4L20 20M20 4L4 20' stroke='%23999'/%3E%3C/svg%3E"
)
_TAGS = nh3.ALLOWED_TAGS | {"font", "tfoot", "center", "big"}
_COMMON = {"style", "align", "valign", "bgcolor", "width", "height", "dir", "lang", "title", "border", "color"}
_ATTRIBUTES: dict[str, set[str]] = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES["*"] = _COMMON
_ATTRIBUTES["font"] = {"face", "size", "color"}
_ATTRIBUTES["table"] = _ATTRIBUTES.get("table", set()) | {"cellpadding", "cellspacing"}
_ATTRIBUTES["img"] = _ATTRIBUTES["img"] | {"src", "alt"}
_URL_ATTRIBUTES = {"href", "src", "cite"}
MAX_INLINE_IMAGES = 8 * 1024 * 1024  # bytes of cid: images embedded into one body
_RASTER = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|bmp);", re.IGNORECASE)


# The sanitizer (html5ever) rescans its stack of open elements for every block-level tag, so its
# time grows with the square of the nesting depth: 5,000 nested <div> took 0.13 s, 20,000 3.1 s,
# 50,000 34 s of CPU. Real mail nests a few dozen deep (layout tables); past these limits the
# message is shown as text, in time linear in its size.
MAX_NESTING = 800
MAX_SANITIZED_CHARS = 4 * 1024 * 1024
_START_OR_END = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
# Elements that never nest (void) or that the parser closes by itself when a sibling starts.
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "p", "li", "dt", "dd", "tr", "td", "th", "tbody", "thead", "tfoot", "option", "optgroup", "colgroup", "caption",
})  # fmt: skip
# What a style attribute may not contain once CSS escapes and comments are undone: remote loads
# (url(), image-set(), image(), src()), allowed with remote images, and what is never allowed
# (@import, and the legacy script hooks expression, behavior, -moz-binding).
_CSS_REMOTE = re.compile(r"url\s*\(|image-set\s*\(|image\s*\(|src\s*\(")
_CSS_SCRIPT = re.compile(r"@import|expression\s*\(|behavior\s*:|-moz-binding|javascript:")
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|\r\n|([\s\S]))")
_CSS_COMMENT = re.compile(r"/\*[\s\S]*?(?:\*/|$)")


def nesting_depth(markup: str) -> int:
    """An upper estimate of how deep elements nest, in one linear pass over the tags."""
    depth = deepest = 0
    for match in _START_OR_END.finditer(markup):
        if match.group(2).lower() in _NOT_NESTING:
            continue
        if match.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def too_costly(markup: str) -> str:
    """Why ``markup`` would take the sanitizer unbounded time (empty: it will not)."""
    if len(markup) > MAX_SANITIZED_CHARS:
        return f"This HTML part is too large to display safely ({len(markup):,} characters); it is shown as plain text."
    depth = nesting_depth(markup)
    if depth > MAX_NESTING:
        return f"This HTML part nests {depth:,} elements deep, too deep to display safely; it is shown as plain text."
    return ""


def _css_unescaped(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return match.group(2) or ""

    return _CSS_ESCAPE.sub(one, _CSS_COMMENT.sub("", value)).replace("\x00", "\ufffd").lower()


def css_verdict(value: str) -> str:
    """``"plain"``, ``"remote"`` (loads something: allowed only with remote images) or ``"script"``
    (never allowed). Checked after CSS escapes are decoded: ``u\\72l(...)`` is ``url(...)``."""
    text = _css_unescaped(value)
    if _CSS_SCRIPT.search(text):
        return "script"
    return "remote" if _CSS_REMOTE.search(text) else "plain"


@dataclass
class AttachmentView:
    index: int
    name: str
    type: str
    size: int

    @property
    def inline(self) -> bool:
        return is_inline_type(self.type)


@dataclass
class MailView:
    headers: list[tuple[str, str]]  # the main ones, in MAIN_HEADERS order (lower-case names)
    all_headers: list[tuple[str, str]]  # every top-level field as written, decoded
    text: str  # the plain text part, or text extracted from the HTML
    html: str | None  # the HTML part as sent: unsafe, pass it through ``sanitize_html``
    attachments: list[AttachmentView] = field(default_factory=list)
    cids: dict[str, int] = field(default_factory=dict)  # Content-ID -> attachment index
    images: dict[str, str] = field(default_factory=dict)  # Content-ID -> data: URL of a raster image


@dataclass
class CleanHtml:
    html: str
    remote_images: int  # how many were blocked (or, when allowed, kept)
    notice: str = ""  # why the HTML is shown as plain text instead (too deep or too large), else empty


def is_inline_type(ctype: str) -> bool:
    """Shown in the browser rather than downloaded. SVG and HTML are not: they can carry script."""
    return ctype.lower() in INLINE_TYPES


def parse_tree(raw: bytes) -> email.message.Message:
    """The MIME tree exactly as ingestion built it; an empty message if no parser copes."""
    return message_tree(raw, []) or email.message.Message()


def _decoded(value: object, charsets: MessageCharsets) -> str:
    text, _ = decode_header(str(value).replace("\r", "").replace("\n", ""), charsets)
    return text.strip()


def build_view(raw: bytes) -> MailView:
    msg = parse_tree(raw)
    charsets = MessageCharsets(raw)  # undeclared 8-bit text is read as at ingestion
    all_headers = [(name, _decoded(value, charsets)) for name, value in msg.raw_items()]
    first: dict[str, str] = {}
    for name, value in all_headers:
        first.setdefault(name.lower(), value)
    parts = collect_parts(msg, charsets)
    cids = _content_ids(msg, parts.attachments)
    attachments = [
        AttachmentView(index=i, name=att.name, type=att.type, size=att.size) for i, (att, _) in enumerate(parts.attachments)
    ]
    return MailView(
        headers=[(name, first[name]) for name in MAIN_HEADERS if name in first],
        all_headers=all_headers,
        text=parts.body_text(),
        html="\n".join(parts.html) if parts.html else None,
        attachments=attachments,
        cids=cids,
        images=_inline_images(cids, parts.attachments),
    )


def _inline_images(cids: dict[str, int], found: list[tuple[Attachment, bytes]]) -> dict[str, str]:
    """Images the HTML shows by ``cid:``, embedded as ``data:`` URLs. The body frame is sandboxed
    (an opaque origin), so its requests carry no session cookie: a URL to the attachment would be
    refused, while a data: URL needs no request at all. Only raster types; big ones stay links."""
    images, budget = {}, MAX_INLINE_IMAGES
    for cid, index in cids.items():
        att, data = found[index]
        if att.type in _RASTER and len(data) <= budget:
            budget -= len(data)
            images[cid] = f"data:{att.type};base64,{base64.b64encode(data).decode('ascii')}"
    return images


def _content_ids(msg: email.message.Message, found: list[tuple[Attachment, bytes]]) -> dict[str, int]:
    """Map ``cid:`` references to attachment numbers by payload digest (robust to walk details)."""
    by_digest = {att.sha256: i for i, (att, _) in reversed(list(enumerate(found)))}
    cids: dict[str, int] = {}
    for part in msg.walk():
        cid = str(part.get("content-id", "") or "").strip().strip("<>").strip()
        if not cid or part.is_multipart():
            continue
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001 - broken encodings: that image just stays unresolved
            continue
        index = by_digest.get(hashlib.sha256(data).hexdigest())
        if index is not None:
            cids.setdefault(cid, index)
    return cids


def attachment_at(raw: bytes, index: int) -> tuple[Attachment, bytes] | None:
    """Attachment ``index`` with its decoded bytes (ingestion's numbering, see module docstring)."""
    return attachment_payload(raw, index)


def text_for_display(data: bytes) -> str:
    """A text/plain attachment as Unicode, whatever legacy charset it was written in."""
    return decode_bytes(data, None)[0]


def sanitize_html(markup: str, *, cid_url: Callable[[str], str | None], allow_remote: bool) -> CleanHtml:
    """Allow-listed HTML. ``cid_url`` maps a Content-ID to a same-site URL (or None when unknown);
    http(s) images become a placeholder unless ``allow_remote``. Links open outside the frame.

    HTML the sanitizer cannot handle in bounded time (see ``too_costly``) is shown as its text,
    escaped, under a notice saying why."""
    notice = too_costly(markup)
    if notice:
        text = html.escape(html_to_text(markup))
        return CleanHtml(html=f'<p class="notice">{html.escape(notice)}</p><pre>{text}</pre>', remote_images=0,
                         notice=notice)  # fmt: skip
    remote = 0

    def rewrite(tag: str, attr: str, value: str) -> str | None:
        nonlocal remote
        if attr == "style":
            verdict = css_verdict(value)
            if verdict == "remote":  # CSS backgrounds are tracking pixels too
                remote += 1
                return value if allow_remote else None
            return value if verdict == "plain" else None
        if attr not in _URL_ATTRIBUTES:
            return value
        url = value.strip()
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if tag == "img" and attr == "src":
            if scheme == "cid":
                return cid_url(unquote(url[4:]).strip("<>"))
            if scheme in ("http", "https"):
                remote += 1
                return url if allow_remote else BLOCKED_IMAGE
            return url if _SAFE_DATA_IMAGE.match(url) else None
        if attr == "href" and scheme in ("http", "https", "mailto"):
            return url
        return None  # relative, javascript:, data:, anything else

    clean = nh3.clean(
        markup,
        tags=_TAGS,
        clean_content_tags={"script", "style", "title", "noscript", "template"},
        attributes=_ATTRIBUTES,
        attribute_filter=rewrite,
        url_schemes={"http", "https", "mailto", "cid", "data"},
        set_tag_attribute_values={"a": {"target": "_blank"}},
        link_rel="noopener noreferrer",
    )
    return CleanHtml(html=clean, remote_images=remote)
