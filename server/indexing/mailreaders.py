"""Find mail under import paths and read it message by message: .eml files, mbox files, Maildir folders.

mbox files are streamed in blocks of whole lines (memory holds a block and one message, whatever
the file size). A line starting with ``From `` separates messages only if it looks like a real From_ line (``From -``,
``From sender@host ...`` or ``From x Mon ...``), so an unquoted "From Russia with love" in a body
stays in the body; ``>From `` quoting (mboxrd) is undone by one level. Inside directories, files
are taken if their name ends in .eml/.mbox or their first line looks like a header field or a
From_ line (manifests, READMEs and index files are skipped and counted).
"""

from __future__ import annotations

import email.utils
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_FROM_LINE = re.compile(rb"From (?:-|\S*@\S*|MAILER-DAEMON\b|\S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b)")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_QUOTED_FROM_LINES = re.compile(rb"^>(>*From )", re.M)  # mboxrd: one level of quoting undone
_BLOCK = 4 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_MAILDIR_SKIP = ("dovecot", "maildirfolder", "courierimap", "subscriptions", ".")


class ImportPathError(ValueError):
    """An import path does not exist or cannot be read (one line, exit code 2)."""


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str  # "eml" | "mbox" | "maildir" (one message; its file name starts with the delivery time)
    size: int


def discover(paths: Iterable[str | os.PathLike]) -> tuple[list[Source], int]:
    """Every mail file under ``paths`` in a stable order, and how many files were skipped as not mail."""
    sources: list[Source] = []
    skipped = 0
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise ImportPathError(f"no such file or directory: {given}")
        if path.is_file():
            sources.append(_source(path, _sniff(path) or "eml"))
            continue
        for file, kind in _walk(path):
            if kind:
                sources.append(_source(file, kind))
            else:
                skipped += 1
    return sources, skipped


def _source(path: Path, kind: str) -> Source:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportPathError(f"cannot read {path}: {exc.strerror}") from None
    if not os.access(path, os.R_OK):
        raise ImportPathError(f"cannot read {path}: permission denied")
    return Source(path, kind, size)


def _walk(directory: Path) -> Iterator[tuple[Path, str | None]]:
    if (directory / "cur").is_dir() and (directory / "new").is_dir():  # a Maildir: its mail, then its subfolders
        for sub in ("cur", "new"):
            for file in sorted((directory / sub).iterdir()):
                if file.is_file() and not file.name.startswith("."):
                    yield file, "maildir"
        for child in sorted(directory.iterdir()):
            if child.is_dir() and child.name not in ("cur", "new", "tmp"):
                yield from _walk(child)
        return
    try:
        children = sorted(directory.iterdir())
    except OSError as exc:
        raise ImportPathError(f"cannot read {directory}: {exc.strerror}") from None
    for child in children:
        if child.is_dir():
            yield from _walk(child)
        elif child.is_file() and not child.name.lower().startswith(_MAILDIR_SKIP):
            yield child, _kind_by_name(child) or _sniff(child)


def _kind_by_name(path: Path) -> str | None:
    name = path.name.lower()
    return "eml" if name.endswith(".eml") else "mbox" if name.endswith(".mbox") else None


def _sniff(path: Path) -> str | None:
    """"mbox" if the file starts with a From_ line, "eml" if with a header field, else None."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1024).removeprefix(_BOM).lstrip(b"\r\n")
    except OSError as exc:
        raise ImportPathError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(b"From ") and _FROM_LINE.match(head):
        return "mbox"
    return "eml" if _HEADER_LINE.match(head) else None


def read_messages(source: Source) -> Iterator[tuple[bytes, datetime | None]]:
    """(raw bytes, delivery time if the mailbox format records one) for each message of ``source``.

    The delivery time (mbox From_ line, Maildir file name) is the arrival time of a message whose
    Date header is missing or unreadable.
    """
    if source.kind == "mbox":
        yield from read_mbox(source.path)
    else:
        yield source.path.read_bytes(), _maildir_time(source.path) if source.kind == "maildir" else None


def _maildir_time(path: Path) -> datetime | None:
    stamp = path.name.split(".", 1)[0]
    try:
        return datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else None
    except (OverflowError, OSError, ValueError):
        return None


def _from_line_time(line: bytes) -> datetime | None:
    """``From sender Wed May 16 00:40:34 2001`` -> that time (UTC unless the line has a zone)."""
    parts = line.decode("ascii", "replace").split(None, 2)
    if len(parts) < 3:
        return None
    try:
        when = email.utils.parsedate_to_datetime(parts[2].strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_mbox(path: Path) -> Iterator[tuple[bytes, datetime | None]]:
    """The messages of an mbox file, streamed; each without its From_ line and the blank line before
    the next, with the time of its From_ line.

    Read in blocks of whole lines and split where a From_ line starts (one regular-expression scan
    per block, not a Python step per line: this runs in the importer's one serial process)."""
    parts: list[bytes] = []  # of the current message, which may span blocks
    started = False
    when = None
    carry = b""
    with path.open("rb") as fh:
        head = fh.read(len(_BOM))
        block = (b"" if head == _BOM else head) + fh.read(_BLOCK)
        while True:
            eof = not block
            data = carry + block
            cut = len(data) if eof else data.rfind(b"\n") + 1  # whole lines only, unless at the end
            pos = 0
            for start in _from_lines(data, cut):
                parts.append(data[pos:start])
                if started:
                    yield _mbox_message(parts), when
                line_end = data.find(b"\n", start, cut)
                line_end = cut if line_end < 0 else line_end + 1
                parts, started, when = [], True, _from_line_time(data[start:line_end])
                pos = line_end
            parts.append(data[pos:cut])
            if eof:
                break
            carry, block = data[cut:], fh.read(_BLOCK)
    if started:
        yield _mbox_message(parts), when
    elif any(part.strip() for part in parts):
        yield _mbox_message(parts), None


def _from_lines(data: bytes, end: int) -> Iterator[int]:
    """Where From_ lines start in ``data[:end]`` (which starts at a line start)."""
    at = 0 if data.startswith(b"From ") else data.find(b"\nFrom ", 0, end) + 1 or -1
    while at >= 0:
        line_end = data.find(b"\n", at, end)
        if _FROM_LINE.match(data, at, end if line_end < 0 else line_end + 1):
            yield at
        at = data.find(b"\nFrom ", at, end) + 1 or -1


def _mbox_message(parts: list[bytes]) -> bytes:
    """One message's bytes: ``>From`` quoting undone by one level, the separator blank line dropped."""
    data = b"".join(parts)
    if b">From " in data:
        data = _QUOTED_FROM_LINES.sub(rb"\1", data)
    if data == b"\n" or data.endswith(b"\n\n"):
        return data[:-1]  # the separator blank line belongs to the mbox, not to the message
    if data == b"\r\n" or data.endswith(b"\n\r\n"):
        return data[:-2]
    return data
