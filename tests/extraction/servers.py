"""Small loopback HTTP servers for the extraction tests: shapes and misbehaviours the simulated
retailers never produce (redirects, trickling bytes, contradictory paging metadata)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: Any = b""               # bytes, or anything JSON
    headers: dict[str, str] = field(default_factory=dict)
    trickle_seconds: float | None = None  # send the whole response one byte at a time
    cut: bool = False             # announce the whole body, send half of it, close the connection


Route = Callable[[Seen], Answer]


class Loopback:
    """A threaded server on 127.0.0.1 answering every request with `route(seen)`."""

    def __init__(self, route: Route) -> None:
        self.route, self.seen, self.stopping = route, [], threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                            {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                outer.seen.append(seen)
                answer = outer.route(seen)
                body = answer.body if isinstance(answer.body, bytes) else orjson.dumps(answer.body)
                head = [f"HTTP/1.1 {answer.status} X", f"Content-Length: {len(body)}",
                        "Content-Type: application/json", *(f"{k}: {v}" for k, v in answer.headers.items())]
                raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
                if answer.cut:
                    self.wfile.write(raw[:len(raw) - len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if answer.trickle_seconds is None:
                    self.wfile.write(raw)
                    return
                for i in range(len(raw)):
                    if outer.stopping.wait(answer.trickle_seconds):
                        return
                    try:
                        self.wfile.write(raw[i:i + 1])
                        self.wfile.flush()
                    except OSError:  # the client gave up: what the test wants
                        return

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def page_of(records: list[dict], **fields: Any) -> dict:
    return {"data": records, "count": len(records), **fields}


def wait_until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)
