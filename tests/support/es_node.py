"""TEST-ONLY transport node that lets the official elasticsearch 9 client talk to osmem-server.

The client sends ``application/vnd.elasticsearch+json; compatible-with=9`` and refuses a
response without ``X-Elastic-Product: Elasticsearch``; osmem-server speaks plain JSON and does
not send that header. Production never uses this node (DESIGN.md §9).
"""

from __future__ import annotations

from typing import Any

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse

_PLAIN = "application/json"


class OsmemNode(Urllib3HttpNode):
    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: HttpHeaders | None = None, **kwargs: Any) -> NodeApiResponse:  # fmt: skip
        plain = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            if name in plain:
                plain[name] = "application/x-ndjson" if "ndjson" in plain[name] else _PLAIN
        response = super().perform_request(method, target, body=body, headers=plain, **kwargs)
        response.meta.headers["X-Elastic-Product"] = "Elasticsearch"
        return response
