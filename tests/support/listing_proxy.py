"""A proxy in front of the real registry that can answer tag listings the way CDNs sometimes do.

Every request is forwarded to the registry unchanged, except ``GET /v2/<name>/tags/list`` while
a mode is queued with :meth:`ListingProxy.next_listings`:

- ``"empty"``: ``{"name": ..., "tags": []}``, as an eventually consistent backend may answer;
- ``"truncated"``: only the first tag of the real list;
- ``"foreign_link"``: the first tag, and a ``Link: <http://other.example/...>; rel="next"``
  that points to another host (archlag must not follow it, nor take the first page for all).

Each queued mode answers one listing. :attr:`ListingProxy.requests` counts what reached the
registry through it, by method and kind (``GET tags/list``, ``HEAD manifests``...). The proxy
runs in a thread on 127.0.0.1 and stops with the ``with`` block.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import httpx

MODES = ("empty", "truncated", "foreign_link")
KINDS = ("tags/list", "manifests", "blobs")


class ListingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._modes: deque[str] = deque()
        self._lock = threading.Lock()
        self.odd_listings_served = 0
        self.requests: Counter[str] = Counter()  # "GET tags/list", "HEAD manifests", ...
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def next_listings(self, *modes: str) -> None:
        """Answer the next listings with these modes, one each."""
        unknown = set(modes) - set(MODES)
        if unknown:
            raise ValueError(f"unknown listing modes {sorted(unknown)}")
        with self._lock:
            self._modes.extend(modes)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._modes)

    def _take(self) -> str | None:
        with self._lock:
            return self._modes.popleft() if self._modes else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test reads archlag's log, not this one

            def _forward(self, method: str) -> None:
                kind = next((k for k in KINDS if f"/{k}" in self.path), "other")
                with proxy._lock:
                    proxy.requests[f"{method} {kind}"] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                reply = httpx.request(
                    method, proxy.upstream + self.path, headers=headers, timeout=10.0
                )
                body, extra = reply.content, {}
                if method == "GET" and "/tags/list" in self.path and reply.status_code == 200:
                    mode = proxy._take()
                    if mode is not None:
                        body, extra = _odd_listing(mode, reply.json())
                        proxy.odd_listings_served += 1
                self.send_response(reply.status_code)
                skip = {"content-length", "transfer-encoding", "connection", "link"}
                for name, value in reply.headers.multi_items():
                    if name.lower() not in skip:
                        self.send_header(name, value)
                if "link" in reply.headers and not extra:
                    self.send_header("Link", reply.headers["link"])
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method == "GET":
                    self.wfile.write(body)

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def _odd_listing(mode: str, listing: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    tags = listing.get("tags") or []
    assert isinstance(tags, list)
    extra: dict[str, str] = {}
    tags = [] if mode == "empty" else sorted(tags)[:1]
    if mode == "foreign_link":
        extra["Link"] = (
            f'<http://other.example/v2/{listing.get("name")}/tags/list?last=x>; rel="next"'
        )
    return json.dumps({"name": listing.get("name"), "tags": tags}).encode(), extra
