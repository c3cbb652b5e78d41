"""A loopback web server for pages that run the book's models in the browser.

WebAssembly threads need `SharedArrayBuffer`, which a browser grants only to a cross-origin isolated
page: one served with `Cross-Origin-Opener-Policy: same-origin` and
`Cross-Origin-Embedder-Policy: require-corp`. Python's `http.server` sends neither, and guesses no
type for `.wasm` (browsers compile a module streamed from a server only when it says
`application/wasm`). `serve` sends both, or neither with `isolated=False` (the page then runs on one
thread), on 127.0.0.1 only: nothing on the network can reach it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
TYPES = {  # what browsers need to hear for the files of a model page
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".onnx": "application/octet-stream",
    ".tflite": "application/octet-stream",
    ".html": "text/html; charset=utf-8",
}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the page's headers, no directory listings, no log lines in the notebook."""

    isolated = True
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self) -> None:
        if self.isolated:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")  # a reload measures a cold page load again
        super().end_headers()

    def list_directory(self, path: str) -> None:  # type: ignore[override]
        self.send_error(404, "no directory listings")
        return None

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def serve(folder: str | Path, *, isolated: bool = True, port: int = 0) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 while the block runs; yield its base URL (a free port unless given)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"nothing to serve at {root}: build the page's folder first")
    handler = type("Handler", (_Handler,), {"isolated": isolated})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="webserve", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
