"""Where the files that are not Python live: ``templates/`` and ``mappings/``.

The repository keeps them at its top level (the design card's layout, shared with designers and the
Elasticsearch tooling). An installed wheel carries copies inside the package, ``server/templates``
and ``server/mappings``, put there by the build step in ``setup.py``. A source checkout or an
editable install has no copies and reads the top-level directories themselves.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``templates`` or ``mappings``: the packaged copy when installed, else the repository's own."""
    packaged = PACKAGE / name
    return packaged if packaged.is_dir() else PACKAGE.parent / name
