"""The shared corpus of real-world mail: every message archived, raw bytes kept exactly, CJK subjects findable.

Copies of one message (the corpus has CRLF/LF twins and the RFC 5322 trace-field example) are
stored once, by design (rule 2); each archived message exports exactly the bytes of the first copy.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

import pytest

from server.config import load_config
from server.indexing.importer import run_import
from server.indexing.mailreaders import Source, discover, read_messages
from server.indexing.parse import parse
from server.services.actor import Actor
from server.services.context import Services
from tests.support.ingest import find, sqlite_store

pytestmark = pytest.mark.corpus
# manifest.tsv counts lines starting with "From "; this file's point is an unquoted "From Russia with love"
# in a body, which is not a message separator (see server/indexing/mailreaders.py).
MANIFEST_OVERCOUNTS = {"mimekit/mbox/unmunged.mbox.txt": 2}
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}")


def manifest(corpus_dir) -> dict[str, tuple[int, set[str]]]:
    rows = (line.split("\t") for line in (corpus_dir / "manifest.tsv").read_text().splitlines()[1:])
    return {row[0]: (int(row[2]), set(filter(None, row[4].split(",")))) for row in rows}


@pytest.fixture(scope="module")
def imported(corpus_dir, tmp_path_factory):
    """The corpus imported once for the module: (store, summary, raw messages by manifest path, config)."""
    base = tmp_path_factory.mktemp("corpus")
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=base / "data")
    for store in sqlite_store(config):
        summary = run_import([str(corpus_dir)], store, config, workers=2)
        sources, _ = discover([corpus_dir])
        messages = {str(s.path.relative_to(corpus_dir)): [raw for raw, _ in read_messages(s)] for s in sources}
        yield store, summary, messages, config


@pytest.fixture
def store(imported):
    return imported[0]


@pytest.fixture
def archived(imported):
    return imported[1], imported[2]


def test_every_corpus_message_is_archived_and_exported_byte_identical(corpus_dir, store, archived, imported):
    summary, messages = archived
    expected = manifest(corpus_dir)
    assert set(messages) == set(expected)
    for path, raws in messages.items():
        assert len(raws) == MANIFEST_OVERCOUNTS.get(path, expected[path][0]), path
    total = sum(len(raws) for raws in messages.values())
    assert summary.read == total and summary.failed == 0
    assert summary.archived + summary.merged + summary.duplicates == total
    assert summary.malformed > 0

    exported: dict[str, bytes] = {}
    copies = 0
    svc = Services.open(imported[3])
    for path, raws in sorted(messages.items()):
        for raw in raws:
            mail = parse(raw)
            opened = svc.archive.raw(Actor.cli(), mail.id)  # what "download .eml" and export --id return
            stored, eml = opened.message, opened.raw
            exported[mail.id] = eml
            if stored.sha256 == hashlib.sha256(raw).hexdigest():
                assert eml == raw, path
            else:  # a second copy of an archived message (CRLF/LF twin, trace fields): the first copy's bytes
                copies += 1
                assert parse(eml).id == mail.id and eml != raw, path
    svc.close()
    assert len(exported) == summary.archived == store.count()
    assert 0 < copies <= total - summary.archived <= 10  # byte-identical files are duplicates too
    for message_id, eml in exported.items():  # each archived message: its own bytes, whole
        assert store.get_message(message_id).sha256 == hashlib.sha256(eml).hexdigest()


def test_malformed_samples_are_archived_with_their_parse_errors(corpus_dir, store, archived):
    _, messages = archived
    with_errors = [(path, raw) for path, raws in messages.items() for raw in raws if parse(raw).parse_errors]
    assert with_errors
    for path, raw in with_errors:
        stored = store.get_message(parse(raw).id)
        assert stored is not None and (stored.parse_errors or stored.sha256 != hashlib.sha256(raw).hexdigest()), path


def test_cjk_samples_are_found_by_a_word_of_their_subject(corpus_dir, store, archived):
    _, messages = archived
    checked = 0
    for path, (_, tags) in manifest(corpus_dir).items():
        if "cjk" not in tags:
            continue
        for raw in messages[path]:
            mail = parse(raw)
            words = _CJK_RUN.findall(mail.subject)
            if not words:
                continue  # CJK only in the body or a name
            word = words[0][:2]
            assert mail.id in {m.id for m in find(store, keyword=word, scope="subject")}, (path, word)
            checked += 1
    assert checked >= 20


def test_sources_cover_eml_and_mbox(corpus_dir):
    sources, skipped = discover([corpus_dir])
    kinds = defaultdict(int)
    for source in sources:
        kinds[source.kind] += 1
    assert kinds["mbox"] == 6 and kinds["eml"] == 712 and skipped == 3  # manifest, SOURCES.md, PROVENANCE.tsv
    assert isinstance(sources[0], Source)
