"""``mailarchive directory import``: CSV and JSON files, the department tree, line-precise errors."""

from __future__ import annotations

import json

import pytest

from server.cli import main
from server.indexing.directoryfile import DirectoryFileError, read_directory_file
from server.model import Account, AccountStatus
from server.store.sqlite import SqliteStore
from tests.support.cli import cli_archive

CSV = """address,name,department,status
Ann@Corp.example,Ann Lee,/Sales/East/Shanghai,active
bob@corp.example,"Bob, Jr.",Sales/West/,disabled
# a comment line

cid@corp.example,,,
"""


def test_csv_with_header_quotes_comments_and_defaults(tmp_path):
    path = tmp_path / "dir.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    assert read_directory_file(path) == [
        Account("ann@corp.example", "Ann Lee", "/Sales/East/Shanghai", AccountStatus.ACTIVE),
        Account("bob@corp.example", "Bob, Jr.", "/Sales/West", AccountStatus.DISABLED),
        Account("cid@corp.example", "", "", AccountStatus.ACTIVE),
    ]


def test_json_list_or_accounts_object(tmp_path):
    rows = [{"address": "dee@corp.example", "name": "李娜", "department": "/研发/北京", "status": "deleted"}]
    for n, data in enumerate((rows, {"accounts": rows})):
        path = tmp_path / f"dir{n}.json"
        path.write_text(json.dumps(data, ensure_ascii=False))
        assert read_directory_file(path) == [Account("dee@corp.example", "李娜", "/研发/北京", AccountStatus.DELETED)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", "address,name\nann@corp.example,Ann\nnot-an-address,X\n", "bad.csv:3: invalid address 'not-an-address'"),
        ("bad.csv", "ann@corp.example,Ann,/Sales,retired\n", "bad.csv:1: status must be one of"),
        ("bad.csv", "ann@corp.example,Ann,/Sales,active,extra\n", "bad.csv:1: expected at most 4 columns"),
        ("bad.json", '[{"address": "a@b.example"},\n {"address": ', "bad.json:2: invalid JSON"),
        ("bad.json", '{"people": []}', "expected a list of accounts"),
        ("bad.csv", b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DirectoryFileError) as caught:
        read_directory_file(path)
    assert message in str(caught.value)


def test_cli_imports_accounts_and_builds_the_department_tree(tmp_path, config, monkeypatch, capsys):
    cli_archive(monkeypatch, config.data_dir)
    path = tmp_path / "dir.csv"
    path.write_text(CSV)
    assert main(["directory", "import", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accounts": 3, "departments": 4}
    store = SqliteStore.from_config(config)
    try:
        assert store.list_departments() == ["/Sales", "/Sales/East", "/Sales/East/Shanghai", "/Sales/West"]
        assert store.get_accounts(["bob@corp.example"])["bob@corp.example"].status == AccountStatus.DISABLED
    finally:
        store.close()
    (tmp_path / "bad.csv").write_text("x,y\n")
    assert main(["directory", "import", str(tmp_path / "bad.csv")]) == 2
    assert main(["directory", "import", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "bad.csv:1: invalid address" in err[0] and "missing.csv" in err[1]
