"""RQ jobs: importable functions with plain arguments that build the services and call one method."""

from __future__ import annotations

from server.config import load_config
from server.services.context import Services


def run_export(task_id: str) -> str:
    """Run one Export All task (``Exports.run``: claims it, writes the zip, publishes it)."""
    with Services.open(load_config()) as svc:
        return svc.exports.run(task_id)
