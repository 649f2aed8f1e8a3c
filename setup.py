"""Build step that puts the repository's top-level ``templates/`` and ``mappings/`` into the wheel.

Why: the design card keeps both directories at the top of the repository (designers and the
Elasticsearch tooling work on them there), but an installed package can only carry files inside a
package. ``build_py`` therefore copies them to ``server/templates`` and ``server/mappings`` in the
build tree, and ``server.resources.resource_dir`` finds the copies when installed and the top-level
directories in a checkout or an editable install. Everything else (metadata, dependencies,
packages) is in pyproject.toml; MANIFEST.in carries the two directories into the sdist, so a wheel
built from it has them too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCE_DIRS = ("templates", "mappings")


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout itself
            return
        for name in RESOURCE_DIRS:
            self.copy_tree(name, str(Path(self.build_lib) / "server" / name))


setup(cmdclass={"build_py": BuildWithResources})
