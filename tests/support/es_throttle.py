"""TEST-ONLY HTTP proxy in front of the test engine that answers the first ``throttled``
``_bulk`` requests the way a busy cluster does: every item ``429 es_rejected_execution_exception``
(nothing written). Everything else is forwarded unchanged. Used to test bulk back-pressure."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_OPS = {"create", "index", "update", "delete"}


def _rejected_items(body: bytes) -> list[dict]:
    items, expect_source = [], False
    for line in body.decode().splitlines():
        if expect_source or not line.strip():
            expect_source = False
            continue
        ((op, meta),) = json.loads(line).items()
        reason = {
            "type": "es_rejected_execution_exception",
            "reason": "rejected execution (queue capacity 200)",
        }
        items.append(
            {op: {"_index": meta.get("_index"), "_id": meta.get("_id"), "status": 429, "error": reason}}
        )
        expect_source = op != "delete" and op in _OPS
    return items


class ThrottlingProxy:
    def __init__(self, upstream: str, throttled: int) -> None:
        self.upstream, self.throttled, self.bulk_requests = upstream.rstrip("/"), throttled, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0].endswith("/_bulk"):
                    proxy.bulk_requests += 1
                    if proxy.bulk_requests <= proxy.throttled:
                        return self._reply(
                            200,
                            json.dumps({"errors": True, "took": 1, "items": _rejected_items(body)}).encode(),
                        )
                request = urllib.request.Request(proxy.upstream + self.path, data=body or None, method=self.command,
                                                 headers={k: v for k, v in self.headers.items() if k.lower() != "host"})  # fmt: skip
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        self._reply(response.status, response.read(), response.headers.get("Content-Type"))
                except urllib.error.HTTPError as exc:
                    self._reply(exc.code, exc.read(), exc.headers.get("Content-Type"))

            def _reply(self, status: int, data: bytes, content_type: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
