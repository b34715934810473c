"""A local HTTP server that plays the ECB: recorded files, and faults on demand (no internet).

Each request takes the next scripted answer (the last one repeats): a status, a
body, headers and a delay before answering (to trigger the client's timeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ECB_DIR = ROOT / "examples" / "ecb"
DAILY = (ECB_DIR / "eurofxref-daily.xml").read_bytes()
HISTORY = (ECB_DIR / "eurofxref-hist-90d.xml").read_bytes()


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = DAILY
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Script:
    answers: list[Answer]
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> Answer:
        with self.lock:
            answer = self.answers[min(self.requests, len(self.answers) - 1)]
            self.requests += 1
            return answer


@contextmanager
def ecb_server(*answers: Answer) -> Iterator[tuple[str, Script]]:
    """Serve the scripted answers on 127.0.0.1; yield the URL and the script (its count)."""
    script = Script(list(answers) or [Answer()])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = script.next()
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False  # a slow answer still sleeping must not hold the test
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/eurofxref-daily.xml", script
    finally:
        server.shutdown()
        server.server_close()
