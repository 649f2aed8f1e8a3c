"""Mail-derived text printed to a terminal, with its control sequences made visible.

A subject, a sender name or an anonymous sign-in name is chosen by whoever sent the mail or typed
it: printed raw, ``ESC ]`` / ``ESC [`` sequences can retitle the window, rewrite earlier lines,
hide the rest of a line or (on some terminals) answer back into the input. Table output therefore
shows every C0/C1 control, DEL and bidirectional override as an escape (``\\x1b``, ``\\u202e``),
so the operator sees that something was there. JSON output is already escaped for C0 by
``json.dumps``; ``json_line`` also escapes C1, DEL and the bidi controls, which stays the same JSON.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """``text`` for a terminal: controls shown as escapes (a tab stays a tab)."""
    return _UNSAFE.sub(_escape, str(text))


def json_line(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)`` with the controls json leaves raw escaped too."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))
