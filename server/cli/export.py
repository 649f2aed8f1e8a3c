"""``mailarchive export --id ID --out FILE.eml``: one archived message, byte for byte (DESIGN.md §6);
``mailarchive export --from ... --to ... [criteria] --out FILE.zip``: every match as a zip of .eml
files with a SHA-256 manifest, streamed (memory stays flat).

The service audits the export (``eml_export`` / ``bulk_export``, actor ``cli``) and verifies every
message's bytes against its SHA-256. The file is written next to its final name and moved into
place only when complete: a damaged message stops the export and leaves no file behind.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from server.cli import UsageError
from server.cli.common import add_criteria_arguments, criteria_params, opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", dest="message_id", metavar="ID", help="archive id of one message (see search)")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write: .eml with --id, .zip with criteria")
    add_criteria_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"--out: directory {str(out.parent)!r} does not exist")
    if args.message_id and (args.from_ or args.to):
        raise UsageError("give either --id ID or search criteria (--from/--to ...), not both")
    if args.message_id:
        return export_eml(args.message_id.strip(), out)
    if args.from_ or args.to:
        return export_zip(args, out)
    raise UsageError("give --id ID (the archive id shown by 'mailarchive search') or --from DATE --to DATE")


def export_zip(args: argparse.Namespace, out: Path) -> int:
    with opened_services() as svc:
        export = svc.archive.zip_matching(Actor.cli(), criteria_params(args), out=str(out.resolve()))
        _publish(out, export.chunks)
    print(f"exported {export.stats.messages} messages ({export.stats.bytes_in} bytes) to {out}")
    return 0


def export_eml(message_id: str, out: Path) -> int:
    with opened_services() as svc:
        opened = svc.archive.raw(Actor.cli(), message_id, out=str(out.resolve()))
    _publish(out, [opened.raw])
    print(f"exported {opened.message.id} ({len(opened.raw)} bytes, sha256 {opened.message.sha256}) to {out}")
    return 0


def _publish(out: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to a partial file beside ``out``; move it into place only once complete."""
    fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
