"""``mailarchive export --id ID --out FILE.eml``: one archived message, byte for byte (DESIGN.md §6);
``mailarchive export --from ... --to ... [criteria] --out FILE.zip``: every match as a zip of .eml
files with a SHA-256 manifest, streamed (memory stays flat).

The file is written next to its final name and moved into place only after the export is
audited (operation ``eml_export`` / ``bulk_export``, actor ``cli``), so no content leaves without
its log entry.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from server.audit.operations import Op
from server.cli import UsageError
from server.cli.common import add_criteria_arguments, config_from_env, criteria_from_args, opened_store
from server.cli.search import audit_cli
from server.export.eml import MessageNotFound, load_eml, raw_bytes
from server.export.zipstream import ZipStats, iter_zip


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write archived mail to a file: --id ID --out FILE.eml")
    parser.add_argument("--id", dest="message_id", metavar="ID", help="archive id of the message (see search)")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write (.eml, or .zip with criteria)")
    add_criteria_arguments(parser, required_range=False)
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
    config = config_from_env()
    criteria = criteria_from_args(args, config)
    with opened_store(config) as store:
        stats = ZipStats()
        chunks = iter_zip(store.scan(criteria), lambda m: raw_bytes(store, m), stats=stats)

        def audit() -> bool:
            details = {**criteria.as_params(), "out": str(out.resolve()), "count": stats.messages}
            return audit_cli(store, config, Op.BULK_EXPORT, target=f"{stats.messages} messages", details=details)

        if not _publish(out, chunks, audit):
            return 1
    print(f"exported {stats.messages} messages ({stats.bytes_in} bytes) to {out}")
    return 0


def _publish(out: Path, chunks: Iterable[bytes], audit: Callable[[], bool]) -> bool:
    """Write ``chunks`` to a partial file beside ``out``; move it into place only once audited."""
    fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        if not audit():
            return False
        os.replace(partial, out)
        return True
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def export_eml(message_id: str, out: Path) -> int:
    config = config_from_env()
    with opened_store(config) as store:
        try:
            message, raw = load_eml(store, message_id)
        except MessageNotFound as exc:
            print(f"mailarchive: error: {exc}", file=sys.stderr)
            return 1
        details = {"out": str(out.resolve()), "sha256": message.sha256, "size": len(raw)}
        if not _publish(out, [raw], lambda: audit_cli(store, config, Op.EML_EXPORT, target=message.id, details=details)):
            return 1
    print(f"exported {message.id} ({len(raw)} bytes, sha256 {message.sha256}) to {out}")
    return 0
