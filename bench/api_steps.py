"""Where one ``GET /api/v1/messages`` spends its time, step by step (issue 18 item 3).

The bench's API stage gives one wall figure per request and the serving process's CPU; on
Elasticsearch that left ~60 ms a request that was neither the store call nor the server's CPU.
This runs the same mix through the app in process (Flask's test client, same ``create_app``, same
services, same node) with timers around each step of the request and around every request the
Elasticsearch client sends (method, path, wall, and the node's own ``took``), so the wall time of a
request is split into: token lookup, archive time zone, the search call (its node request, the
decoding of its hits), the audit entry, highlighting, the JSON response, and the rest (Flask). The
timers are plain wrappers installed for the run and removed after it: the code measured is the
code that serves.

    python -m bench.api_steps --archive DATA_DIR --es-url URL [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench.latency import percentiles
from bench.queries import query_mix

STEPS = ("token", "timezone", "store_search", "decode_hits", "audit_entry", "highlight", "json")


class Probe:
    """Per-request accumulators: milliseconds per step, and the node requests made."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self.requests: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.steps, self.requests = {}, []

    def add(self, step: str, ms: float) -> None:
        self.steps[step] = self.steps.get(step, 0.0) + ms


@contextmanager
def _wrapped(owner: Any, name: str, wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _timer(probe: Probe, step: str) -> Callable[[Callable], Callable]:
    def wrap(func: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                probe.add(step, (time.perf_counter() - started) * 1000)
        return timed
    return wrap


def _transport_timer(probe: Probe) -> Callable[[Callable], Callable]:
    def wrap(func: Callable) -> Callable:
        def timed(self: Any, method: str, target: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            response = func(self, method, target, *args, **kwargs)
            body = getattr(response, "body", None)
            took = body.get("took") if isinstance(body, dict) else None
            probe.requests.append({"method": method, "path": target.split("?")[0], "took": took,
                                   "ms": round((time.perf_counter() - started) * 1000, 2)})  # fmt: skip
            return response
        return timed
    return wrap


@contextmanager
def probed(store: Any, probe: Probe) -> Iterator[None]:
    """Timers on the steps of the search path (see the module's docstring)."""
    import elastic_transport

    from server.services.archive_access import ArchiveAccess
    from server.services.context import Services
    from server.store.elasticsearch import search as es_search
    from server.users import UserService
    from server.web import api_messages

    with ExitStack() as stack:
        for owner, name, step in ((UserService, "user_for_token", "token"), (ArchiveAccess, "timezone", "timezone"),
                                  (type(store), "search", "store_search"), (es_search, "from_document", "decode_hits"),
                                  (Services, "write_entry", "audit_entry"), (api_messages, "result_rows", "highlight"),
                                  (api_messages, "jsonify", "json")):  # fmt: skip
            stack.enter_context(_wrapped(owner, name, _timer(probe, step)))
        stack.enter_context(_wrapped(elastic_transport.Transport, "perform_request", _transport_timer(probe)))
        yield


def step_timings(config: Any, token: str, seed: int, rounds: int) -> dict[str, Any]:
    """The mix through the in-process app, ``rounds`` times; per kind and overall, p50/p95 of each step."""
    from server.web.app import create_app
    from server.web.context import services_of

    app = create_app(config)
    client, probe = app.test_client(), Probe()
    headers = {"Authorization": f"Bearer {token}"}
    rows: list[dict[str, Any]] = []
    with probed(services_of(app).store, probe):
        for round_no in range(1, rounds + 1):
            for kind, params in query_mix(seed):
                probe.reset()
                started, cpu = time.perf_counter(), time.thread_time()
                response = client.get("/api/v1/messages?" + urllib.parse.urlencode({**params, "limit": "50"}),
                                      headers=headers)  # fmt: skip
                wall = (time.perf_counter() - started) * 1000
                cpu = (time.thread_time() - cpu) * 1000
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                steps, requests = dict(probe.steps), list(probe.requests)
                closed = time.perf_counter()
                response.close()  # what the server does once it has sent the body: the deferred writes
                rows.append({"kind": kind, "round": round_no, "wall": wall, "cpu": cpu, "steps": steps,
                             "requests": requests, "after_response": (time.perf_counter() - closed) * 1000,
                             "after_requests": len(probe.requests) - len(requests)})  # fmt: skip
    return summarize(rows)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def figures(selected: list[dict[str, Any]]) -> dict[str, Any]:
        out = {"wall": percentiles([r["wall"] for r in selected]), "cpu": percentiles([r["cpu"] for r in selected])}
        for step in STEPS:
            out[step] = percentiles([r["steps"].get(step, 0.0) for r in selected])
        out["node_requests"] = percentiles([float(len(r["requests"])) for r in selected])
        out["after_response"] = percentiles([r["after_response"] for r in selected])
        out["after_response_requests"] = percentiles([float(r["after_requests"]) for r in selected])
        out["node_wall"] = percentiles([sum(q["ms"] for q in r["requests"]) for r in selected])
        out["search_took"] = percentiles([q["took"] for r in selected for q in r["requests"] if q["took"] is not None])
        unaccounted = [r["wall"] - sum(r["steps"].get(s, 0.0) for s in STEPS if s != "decode_hits") for r in selected]
        out["rest"] = percentiles(unaccounted)
        return out

    kinds = sorted({r["kind"] for r in rows})
    paths: dict[str, list[float]] = {}
    for row in rows:
        for q in row["requests"]:
            paths.setdefault(f"{q['method']} {_shape(q['path'])}", []).append(q["ms"])
    rounds = sorted({r["round"] for r in rows})
    return {"overall": figures(rows), "by_kind": {k: figures([r for r in rows if r["kind"] == k]) for k in kinds},
            "by_round": {n: figures([r for r in rows if r["round"] == n]) for n in rounds},
            "node_requests_by_path": {p: percentiles(v) for p, v in sorted(paths.items())}}  # fmt: skip


def _shape(path: str) -> str:
    """``/bench-docs/_doc/user:alice`` -> ``/*/_doc/*``: one row per kind of request."""
    parts = path.strip("/").split("/")
    return "/" + "/".join(p if p.startswith("_") else "*" for p in parts)


def main(argv: list[str] | None = None) -> int:
    from bench.backends import archive_prefix, node_cpu_seconds
    from bench.importrun import bench_env
    from bench.options import RESULTS
    from bench.webapi import api_token, web_server
    from server.config import load_config

    parser = argparse.ArgumentParser(prog="bench.api_steps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="the data dir of an Elasticsearch archive (--keep-data)")
    parser.add_argument("--es-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="results file (default bench/results/api-steps-DATE.json)")
    args = parser.parse_args(argv)
    env = {**bench_env(args.archive, args.es_url), "MAILARCHIVE_ES_INDEX_PREFIX": archive_prefix(args.es_url)}
    with web_server(env, RESULTS.parent / "work" / "api-steps-web.log") as (base, _pid):
        token = api_token(env, base, name=f"steps-{int(time.time())}")
    node_before, load_before = node_cpu_seconds(args.es_url), os.getloadavg()
    steps = step_timings(load_config(env=env), token, args.seed, args.rounds)
    node_after, requests = node_cpu_seconds(args.es_url), steps["overall"]["wall"]["n"]
    result = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": args.rounds,
              "load_avg_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)], "steps": steps,
              # the node's CPU per API search, its after-response writes included
              "node_cpu_ms_per_request": round((node_after - node_before) / requests * 1000, 2)
              if node_before is not None and node_after is not None and requests else None}  # fmt: skip
    out = args.out or str(RESULTS / f"api-steps-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json")
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    overall = result["steps"]["overall"]
    print(out, "load", result["load_avg_before_after"], "node CPU ms/request", result["node_cpu_ms_per_request"])
    for name, fig in overall.items():
        print(f"{name:14} p50 {fig.get('p50', '-'):>8} p95 {fig.get('p95', '-'):>8}")
    for path, fig in result["steps"]["node_requests_by_path"].items():
        print(f"  {path:40} n {fig['n']:>5} p50 {fig['p50']:>7} p95 {fig['p95']:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
