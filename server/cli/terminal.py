"""Mail-derived text printed to a terminal, with its control sequences made visible.

A subject, a sender name or an anonymous sign-in name is chosen by whoever sent the mail or typed
it: printed raw, ``ESC ]`` / ``ESC [`` sequences can retitle the window, rewrite earlier lines,
hide the rest of a line or (on some terminals) answer back into the input. Table output therefore
shows every C0/C1 control, DEL and bidirectional override as an escape (``\\x1b``, ``\\u202e``),
so the operator sees that something was there. JSON output is already escaped for C0 by
``json.dumps``; ``json_line`` also escapes C1, DEL and the bidi controls, which stays the same JSON.
"""

from __future__ import annotations

import functools
import json
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

# C0 but tab, DEL and C1, and the bidirectional controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI)
_UNSAFE_RANGES = ((0x00, 0x08), (0x0A, 0x1F), (0x7F, 0x9F), (0x61C, 0x61C), (0x200E, 0x200F), (0x202A, 0x202E),
                  (0x2066, 0x2069))  # fmt: skip
# a table for ``str.translate``: compiling the character class as a regex costs ~2.5 M instructions
# (its code points above U+00FF make re build a 64 K bitmap), which every table search paid at start-up
_ESCAPED = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
            for low, high in _UNSAFE_RANGES for code in range(low, high + 1)}  # fmt: skip


def safe(text: object) -> str:
    """``text`` for a terminal: controls shown as escapes (a tab stays a tab)."""
    return str(text).translate(_ESCAPED)


def json_line(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)`` with the controls json leaves raw escaped too (a regex
    compiled on first use: on long lines of non-ASCII text it is faster than ``str.translate``)."""
    return _unsafe().sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


@functools.cache
def _unsafe() -> re.Pattern[str]:
    """The unsafe characters as one regex class (compiled on first use, like the tokenizer's patterns)."""
    return re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _UNSAFE_RANGES) + "]")
