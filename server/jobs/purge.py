"""The daily retention purge as an RQ job (queued by the worker's maintenance, ``Retention.schedule``)."""

from __future__ import annotations

from server.config import load_config
from server.services.context import Services
from server.services.retention import SCHEDULER


def run_purge() -> dict:
    """One purge run as the server itself (resumes a run that was killed); returns its report."""
    with Services.open(load_config()) as svc:
        return svc.retention.purge(SCHEDULER).to_dict()
