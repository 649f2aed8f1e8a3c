"""The command line on the real engine: ``mailarchive import`` and ``mailarchive search`` with
``MAILARCHIVE_STORE=<engine URL>`` give exactly what they give with SQLite, on the real corpus
(messy mail: missing headers, odd encodings, long tokens, CJK, attachments).

Both archives are filled by the same command from the same files; then every search below runs
through the command on both and the JSON outputs (totals, ids, order, every summary field) must
be equal, as must the raw bytes ``mailarchive export`` writes. One field differs by design: a
message without a Date header is dated by its arrival, which is a little later in the second
import; such dates (after the test started) are compared as "arrival".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.config import load_config
from server.store import open_store
from tests.support.es import delete_prefix, unique_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.corpus, pytest.mark.timeout(900)]
# About 400 of the corpus's messages, from the collections with the oddest mail (bounces, spam,
# broken encodings, international text, attachments): two imports of the whole corpus cost minutes.
FOLDERS = ["enmime", "letters", "mikel-mail", "spamassassin", "stalwart-mail-parser", "mimekit", "node-bounce-handler"]
ROOT = Path(__file__).resolve().parents[2]
MAILBOX = "journal@corp.example"
EVERYTHING = ["--from", "1970-01-01", "--to", "2099-12-31"]
SEARCHES = [
    [],
    ["--keyword", "the"],
    ["--keyword", "test message"],
    ["--keyword", '"this is"'],
    ["--keyword", "attachment", "--scope", "attachment"],
    ["--keyword", "subject", "--scope", "subject"],
    ["--keyword", "日本語"],
    ["--keyword", "bounce", "--scope", "body"],
    ["--mailbox", MAILBOX, "--keyword", "mail"],
    ["--mailbox", "nobody@corp.example"],
    ["--from", "2000-01-01", "--to", "2015-12-31"],
]


def _env(tmp: Path, store: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    env.update(MAILARCHIVE_DATA_DIR=str(tmp / "data"), MAILARCHIVE_CONFIG="none", MAILARCHIVE_STORE=store,
               MAILARCHIVE_ES_INDEX_PREFIX=prefix, MAILARCHIVE_TIMEZONE="UTC")  # fmt: skip
    return env


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, f"mailarchive {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def archives(corpus_dir: Path, es_url: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """Environments of two archives of the whole corpus: SQLite, and Elasticsearch at the engine."""
    prefix, started = unique_prefix(), datetime.now(UTC)
    envs = {
        "sqlite": _env(tmp_path_factory.mktemp("sqlite"), "sqlite", prefix),
        "elasticsearch": _env(tmp_path_factory.mktemp("es"), es_url, prefix),
    }
    for env in envs.values():  # create both archives, as `mailarchive serve` does on first start
        Path(env["MAILARCHIVE_DATA_DIR"]).mkdir(parents=True)
        open_store(load_config(env=env)).close()
    summaries = {name: json.loads(_run(env, "import", *(str(corpus_dir / f) for f in FOLDERS), "--mailbox", MAILBOX, "--json").splitlines()[-1])
                 for name, env in envs.items()}  # fmt: skip
    yield envs, summaries, started
    delete_prefix(es_url, prefix)


def test_import_reports_the_same_counts(archives) -> None:  # noqa: ANN001
    _, summaries, _ = archives
    sqlite, es = summaries["sqlite"], summaries["elasticsearch"]
    counts = {k: v for k, v in sqlite.items() if isinstance(v, int) and "second" not in k and "rate" not in k}
    assert counts and {k: es.get(k) for k in counts} == counts
    assert sqlite.get("failed", 0) == 0


@pytest.mark.parametrize("criteria", SEARCHES, ids=lambda c: " ".join(c) or "everything")
def test_search_gives_identical_results(archives, criteria: list[str]) -> None:  # noqa: ANN001
    envs, _, started = archives
    args = ["search", *(criteria if "--from" in criteria else EVERYTHING + criteria), "--limit", "500", "--json"]
    sqlite, es = (_arrival_dates(json.loads(_run(envs[name], *args)), started) for name in ("sqlite", "elasticsearch"))
    assert es["total"] == sqlite["total"]
    assert _first_difference(es["results"], sqlite["results"]) is None
    if criteria in ([], ["--keyword", "the"]):
        assert sqlite["total"] > 50  # the comparison is not between two empty lists


def _arrival_dates(output: dict, started: datetime) -> dict:
    for hit in output["results"]:
        if datetime.fromisoformat(hit["date"]) >= started:
            hit["date"] = "arrival"
    return output


def _first_difference(es: list[dict], sqlite: list[dict]) -> tuple | None:
    """(position, field, Elasticsearch's value, SQLite's value) of the first difference, for a readable failure."""
    for position, (a, b) in enumerate(zip(es, sqlite, strict=False)):
        for field in sorted(set(a) | set(b)):
            if a.get(field) != b.get(field):
                return position, field, a.get(field), b.get(field)
    return None if len(es) == len(sqlite) else (min(len(es), len(sqlite)), "length", len(es), len(sqlite))


def test_export_gives_the_same_bytes(archives, tmp_path: Path) -> None:  # noqa: ANN001
    envs, _, _ = archives
    hits = json.loads(_run(envs["sqlite"], "search", *EVERYTHING, "--limit", "25", "--json"))["results"]
    for hit in hits:
        outputs = []
        for name in ("sqlite", "elasticsearch"):
            out = tmp_path / f"{name}-{hit['sha256']}.eml"
            _run(envs[name], "export", "--id", hit["id"], "--out", str(out))
            outputs.append(out.read_bytes())
        assert outputs[0] == outputs[1] and outputs[0]
