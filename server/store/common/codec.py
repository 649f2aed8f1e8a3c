"""zstd compression of raw messages and documents, with one (de)compressor per thread.

zstandard's contexts are not thread-safe, and making a new one per call costs more than the
compression of a typical 10 KB message, so each thread keeps its own. zstandard is imported with the
first context: its import (it imports ``platform``) costs ~11 M instructions (~5 ms), which a command
that reads and writes no document, such as a search without matches, need not pay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

    import zstandard

LEVEL = 3  # zstd's default: ~3x on mail at several hundred MB/s per core
FEW_DOCS = 2000  # documents a process decodes with json before it switches to orjson (see unpack_doc)
_local = threading.local()
_decoded = 0
_fast_loads: Callable[[bytes], Any] | None = None


def _contexts() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        import zstandard

        ctx = _local.ctx = (zstandard.ZstdCompressor(level=LEVEL), zstandard.ZstdDecompressor())
    return ctx


def compress(data: bytes) -> bytes:
    return _contexts()[0].compress(data)


def decompress(data: bytes) -> bytes:
    # the frame header carries the content size, so no max_output_size is needed
    return _contexts()[1].decompress(data)


def pack_doc(doc: dict[str, Any]) -> bytes:
    return compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())


def unpack_doc(blob: bytes) -> dict[str, Any]:
    """orjson reads what ``pack_doc`` wrote (strict UTF-8 JSON) in about half json's time, which was
    the largest single cost of a scan (Export All, POP3 windows). But its import costs ~10 ms of CPU
    (a 240 KB extension, plus uuid and platform), more than it saves on a page or two of results:
    a process decodes its first ``FEW_DOCS`` documents with json (the same dicts) and then orjson.
    Not thread-safe counting, on purpose: a lost increment only delays the switch."""
    global _decoded
    if _fast_loads is not None:
        return _fast_loads(decompress(blob))
    _decoded += 1
    if _decoded > FEW_DOCS:
        _use_orjson()
    return json.loads(decompress(blob))


def decode_doc(blob: bytes) -> dict[str, Any]:
    """``unpack_doc`` for a bulk read (an export's scan): orjson from the first document on."""
    return (_fast_loads or _use_orjson())(decompress(blob))


def _use_orjson() -> Callable[[bytes], Any]:
    """Import orjson (once) and make it the decoder of every later document of this process."""
    global _fast_loads
    if _fast_loads is None:
        import orjson

        _fast_loads = orjson.loads
    return _fast_loads
