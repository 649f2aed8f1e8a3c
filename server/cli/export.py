"""``mailarchive export --id ID --out FILE.eml``: one archived message, byte for byte (DESIGN.md §6).

The file is written next to its final name and moved into place only after the export is
audited (operation ``eml_export``, actor ``cli``), so no content leaves without its log entry.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from server.audit.operations import Op
from server.cli import UsageError
from server.cli.common import config_from_env, opened_store
from server.cli.search import audit_cli
from server.export.eml import MessageNotFound, load_eml


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write archived mail to a file: --id ID --out FILE.eml")
    parser.add_argument("--id", dest="message_id", metavar="ID", help="archive id of the message (see search)")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write (.eml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The form by criteria (``--from ... --to ... --out FILE.zip``) dispatches from here.
    if not args.message_id:
        raise UsageError("give --id ID (the archive id shown by 'mailarchive search')")
    return export_eml(args.message_id.strip(), Path(args.out))


def export_eml(message_id: str, out: Path) -> int:
    if not out.parent.is_dir():
        raise UsageError(f"--out: directory {str(out.parent)!r} does not exist")
    config = config_from_env()
    with opened_store(config) as store:
        try:
            message, raw = load_eml(store, message_id)
        except MessageNotFound as exc:
            print(f"mailarchive: error: {exc}", file=sys.stderr)
            return 1
        fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            details = {"out": str(out.resolve()), "sha256": message.sha256, "size": len(raw)}
            if not audit_cli(store, config, Op.EML_EXPORT, target=message.id, details=details):
                return 1
            os.replace(partial, out)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    print(f"exported {message.id} ({len(raw)} bytes, sha256 {message.sha256}) to {out}")
    return 0
