"""Headless Chromium, driven from Python with the standard library only.

The book's browser checks and its browser chapter both open pages in Debian's `chromium` through
`chromedriver`'s W3C WebDriver HTTP interface (the Selenium client's dependencies clash with the
book's pinned stack). Only 127.0.0.1 resolves for the browser: a page that needs the network fails
instead of passing on a connected machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    # a page is never "in the background" here: do not slow its timers (the inspection waits on them)
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--hide-scrollbars",
    "--window-size=1280,1000",
    # only the local server resolves: a page that needs the network fails here
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
PAGE_TIMEOUT_S = 60  # generous: CI machines are small and shared
SCRIPT_TIMEOUT_S = 120
MAX_SCREENSHOT_HEIGHT = 20000  # CSS pixels


def missing_browser() -> str | None:
    """Why Chromium cannot be driven here (a sentence that says what to install), or None."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not (Path(tool).is_file() and os.access(tool, os.X_OK)):
            return (f"{tool} not found: install Debian's chromium and chromium-driver "
                    "(`apt-get install chromium chromium-driver`; .ci/run does), or set CHROMIUM and CHROMEDRIVER")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """Just enough of the W3C WebDriver protocol (plus chromedriver's CDP bridge) for these checks."""

    def __init__(self, driver: str, binary: str, flags: list[str], profile: str):
        self.port = _free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="chromedriver-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [driver, f"--port={self.port}"], stdout=self.log, stderr=subprocess.STDOUT
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromedriver did not start; its log: {self.log.name}")
            time.sleep(0.1)
        caps = {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": PAGE_TIMEOUT_S * 1000, "script": SCRIPT_TIMEOUT_S * 1000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": binary, "args": [*flags, f"--user-data-dir={profile}"]},
        }
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        self.session = value["sessionId"]
        self.browser_version = value.get("capabilities", {}).get("browserVersion", "?")

    def _call(self, method: str, path: str, payload: dict | None = None, timeout: float = 60):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            value = body.get("value", {})
            raise RuntimeError(f"WebDriver {method} {path}: {value.get('error')}: {value.get('message')}") from None
        return body.get("value")

    def cmd(self, method: str, path: str, payload: dict | None = None, timeout: float = 60):
        return self._call(method, f"/session/{self.session}{path}", payload, timeout)

    def cdp(self, command: str, params: dict | None = None):
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": command, "params": params or {}})

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url}, timeout=PAGE_TIMEOUT_S + 10)

    def execute(self, script: str, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script: str, *args):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)}, timeout=SCRIPT_TIMEOUT_S + 10)

    def await_js(self, body: str, *args):
        """The value of the JS expression `body` (a promise is awaited; args are `arguments[0..]`).

        An exception or a rejected promise in the page raises RuntimeError with the page's message.
        """
        out = self.execute_async(
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => ({body})).then((v) => done({{ok: v === undefined ? null : v}}),"
            " (e) => done({error: String((e && e.message) || e)}));", *args)
        if "error" in out:
            raise RuntimeError(f"the page says: {out['error']}")
        return out["ok"]

    def wait_for(self, condition: str, timeout_s: float = PAGE_TIMEOUT_S) -> None:
        """Poll until the JS expression `condition` is true; TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not self.execute(f"return Boolean({condition})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page did not reach `{condition}` within {timeout_s:.0f} s")
            time.sleep(0.05)

    def console_log(self) -> list[dict]:
        """Browser console entries since the last call (chromedriver's legacy log endpoint)."""
        try:
            return self.cmd("POST", "/se/log", {"type": "browser"}) or []
        except RuntimeError:
            return []

    def screenshot(self, path: Path) -> tuple[int, int]:
        """A full-page PNG: the viewport is made as tall as the document, then captured."""
        self.execute("window.scrollTo(0, 0)")
        metrics = self.cdp("Page.getLayoutMetrics")
        viewport = metrics.get("cssLayoutViewport") or metrics["layoutViewport"]
        width = int(viewport["clientWidth"])  # the page as a reader sees it, not any overflow
        height = int(self.execute("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"))
        height = max(1, min(height, MAX_SCREENSHOT_HEIGHT))
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        try:
            self.execute("window.scrollTo(0, 0)")
            shot = self.cdp("Page.captureScreenshot", {"format": "png", "fromSurface": True})
        finally:
            self.cdp("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return width, height

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self._call("DELETE", f"/session/{self.session}", timeout=20)
        except Exception:  # noqa: BLE001 - closing must not mask a test's own failure
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()



@contextlib.contextmanager
def chromium(flags: list[str] | None = None, *, on_new_document: str | None = None) -> Iterator[WebDriver]:
    """A headless Chromium session in a fresh profile, closed (profile deleted) when the block ends."""
    reason = missing_browser()
    if reason:
        raise FileNotFoundError(reason)
    profile = tempfile.mkdtemp(prefix="edge-chromium-")
    driver = WebDriver(CHROMEDRIVER, CHROMIUM, list(flags or CHROME_FLAGS), profile)
    try:
        if on_new_document:
            driver.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": on_new_document})
        yield driver
    finally:
        driver.close()
        shutil.rmtree(profile, ignore_errors=True)
