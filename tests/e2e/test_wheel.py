"""The package as users install it: a wheel built from the source, installed (not editable) into a
fresh virtual environment, serving the console over HTTP with its templates, static files,
translations and Elasticsearch mappings all coming from the installed package.

Builds from a copy of the working tree (so a stale ``build/`` in the checkout cannot leak into the
wheel); pip's cache makes the dependency install take seconds, and nothing but the package
registries is contacted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.support.serving import serve_env, serving

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "data", "*.egg-info", "__pycache__", "work",
                                 ".pytest_cache", ".ruff_cache", "tests", "bench")  # fmt: skip


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel installed; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, base / "src", ignore=IGNORED)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # The test venv has the build requirements (setuptools>=77), so no isolated build env is fetched.
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", base / "dist", base / "src", cwd=base)
    [wheel] = (base / "dist").glob("mailarchive-*.whl")
    venv.create(base / "venv", with_pip=False)  # this pip installs into it (--python): no ensurepip run
    bin_dir = base / "venv" / "bin"
    run(*pip, "--python", bin_dir / "python", "install", "-q", wheel, cwd=base)
    return bin_dir


def test_the_wheel_carries_templates_static_locales_and_mappings(installed: Path, tmp_path: Path) -> None:
    probe = ("import server, server.resources as r, server.web.app as a, server.web.i18n as i, "
             "server.store.elasticsearch.connection as c;"
             "print(server.__file__); print(a.TEMPLATES); print(c.MAPPINGS); print(i.LOCALES)")  # fmt: skip
    package, templates, mappings, locales = run(installed / "python", "-c", probe, cwd=tmp_path).split()
    site = installed.parent / "lib"
    for path in (package, templates, mappings, locales):
        assert Path(path).is_relative_to(site), f"{path} is not inside the installed package"
    assert (Path(templates) / "auth" / "login.html").is_file()
    assert (Path(mappings) / "messages-v2.json").is_file()
    assert (Path(locales) / "zh-CN" / "core.json").is_file()


def test_mailarchive_serve_from_the_wheel_serves_the_login_page(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in serve_env(tmp_path / "data").items() if not k.startswith("PYTHON")}
    with serving([installed / "mailarchive", "serve"], env, tmp_path) as lines:
        url = re.search(r"sign in at (http://\S+/login)", "".join(lines))
        assert url, "".join(lines)
        with urllib.request.urlopen(url.group(1), timeout=10) as page:
            html = page.read().decode()
        assert page.status == 200 and 'name="password"' in html
        css = re.search(r'href="(/static/[^"]+\.css)', html)
        assert css, html
        with urllib.request.urlopen(url.group(1).removesuffix("/login") + css.group(1), timeout=10) as sheet:
            assert sheet.status == 200 and len(sheet.read()) > 100
        zh = urllib.request.Request(url.group(1), headers={"Accept-Language": "zh-CN"})
        with urllib.request.urlopen(zh, timeout=10) as page:
            assert re.search(r"[\u4e00-\u9fff]", page.read().decode()), "no translated text: locales missing"
