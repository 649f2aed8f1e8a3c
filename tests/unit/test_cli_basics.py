"""The ``mailarchive`` command itself: version, usage, help on every option, lazy command loading,
and search paging (``--cursor``) and streaming (``--all --jsonl``) on a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server import __version__
from server.cli import COMMANDS, build_parser, main
from tests.unit.test_cli_search import audited, data_dir  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
MARCH = ["--from", "2024-03-01", "--to", "2024-03-31"]


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_version_and_bare_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"mailarchive {__version__}\n"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mailarchive") and all(name in out for name in COMMANDS)
    assert main(["user"]) == 0 and "passwd" in capsys.readouterr().out  # a group alone shows its commands


def _options(parser) -> list:  # noqa: ANN001
    """Every option and positional of ``parser`` and of its sub-commands, with their parser's name."""
    found = []
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict) and action.dest != "help":
            for sub in action.choices.values():
                found += _options(sub)
        elif action.dest != "help":
            found.append((parser.prog, action))
    return found


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help(command: str) -> None:
    missing = [f"{prog} {action.option_strings or action.dest}" for prog, action in _options(build_parser([command]))
               if not action.help]  # fmt: skip
    assert missing == []


def test_required_ranges_and_department_example_are_in_the_help() -> None:
    text = build_parser(["search"])._subparsers._group_actions[0].choices["search"].format_help()
    assert "required: first day or time, YYYY-MM-DD" in " ".join(text.split())
    assert "e.g. /Sales/EMEA" in text


def test_only_the_chosen_command_is_imported() -> None:
    loaded = json.loads(_python(
        "import contextlib, io, json, sys\n"
        "from server.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main(['search', '--help'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('server', 'flask', 'argon2', 'eml_parser')))))"
    ))  # fmt: skip
    assert "server.cli.search" in loaded
    heavy = [m for m in loaded if m.startswith(("server.cli.serve", "server.cli.user", "server.store", "server.indexing",
                                                 "server.web", "server.services", "flask", "argon2", "eml_parser"))]
    assert heavy == []


# what a search never needs: the web app, password hashing, the importer and MIME parser chain, the
# zone database for a UTC archive, the zip writer, shutil (and the compressors it loads), the user
# records, logging (nothing is logged), orjson (a page decodes with json), random; and for a table of
# an ASCII keyword (the highlighter of --json needs it), unicodedata
NOT_FOR_A_SEARCH = ("flask", "argon2", "eml_parser", "dateutil", "server.web", "server.indexing", "server.mailview",
                    "server.cli.serve", "server.cli.imports", "server.services.ingest", "tomllib", "zoneinfo",
                    "server.export", "shutil", "tempfile", "bz2", "lzma", "server.users", "secrets", "logging",
                    "orjson", "uuid", "random")  # fmt: skip


def _search_modules(argv: list[str]) -> list:
    """[exit code, the modules loaded] of one ``main(argv)`` in a fresh interpreter."""
    return json.loads(_python(
        "import contextlib, io, json, sys\n"
        "from server.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): code = main({argv!r})\n"
        "print(json.dumps([code, sorted(sys.modules)]))"
    ))  # fmt: skip


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_a_search_run_loads_only_what_searching_needs(data_dir: Path, output: list[str]) -> None:  # noqa: F811
    """The whole command, run on a real archive with a keyword (start-up is most of a CLI search)."""
    loaded = _search_modules(["search", *MARCH, "--keyword", "budget", *output])
    assert loaded[0] == 0
    assert "server.store.sqlite.search" in loaded[1] and "server.services.archive_access" in loaded[1]
    assert [m for m in loaded[1] if m.startswith(NOT_FOR_A_SEARCH + (() if output else ("unicodedata",)))] == []


def test_search_pages_with_the_cursor(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    seen, cursor = [], None
    while True:
        assert main(["search", *MARCH, "--limit", "3", "--json", *(["--cursor", cursor] if cursor else [])]) == 0
        page = json.loads(capsys.readouterr().out)
        seen += [r["id"] for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == page["total"] == 8
    assert main(["search", *MARCH, "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["results"]] == seen


def test_search_all_streams_every_match_as_json_lines(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert main(["search", *MARCH, "--all", "--jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert main(["search", *MARCH, "--json", "--limit", "1000"]) == 0
    assert [json.loads(line) for line in lines] == json.loads(capsys.readouterr().out)["results"]
    entry = next(e for e in audited("search") if e.details.get("all"))
    assert entry.details["hits"] == 8 and entry.result == "success"


@pytest.mark.parametrize("argv", [[*MARCH, "--all", "--json"], [*MARCH, "--all", "--cursor", "x"],
                                  [*MARCH, "--all", "--limit", "5"]])
def test_search_all_refuses_page_options(data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:  # noqa: F811
    assert main(["search", *argv]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_unreachable_store_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("MAILARCHIVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILARCHIVE_CONFIG", "none")
    monkeypatch.setenv("MAILARCHIVE_STORE", "http://127.0.0.1:9")  # discard port: nothing listens
    assert main(["search", *MARCH]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mailarchive: error: the archive store failed: ")


def test_a_search_without_matches_loads_no_typing(data_dir: Path) -> None:  # noqa: F811
    """Nothing on a search's path imports ``typing`` at run time (~27 M instructions with the
    ``ForwardRef`` compiles of its NamedTuples); a page with matches loads it with zstandard."""
    loaded = _search_modules(["search", *MARCH, "--keyword", "zzzznothing"])
    assert loaded[0] == 0 and "server.store.sqlite.search" in loaded[1]
    assert "typing" not in loaded[1] and "server.store.interface" not in loaded[1]
