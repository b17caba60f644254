"""Headless Debian Chromium driven over the DevTools protocol (CDP), for the console's end-to-end test and
its screenshots (bench/console_screenshots.py). Only `websockets`, which uvicorn[standard] already installs.

The browser gets a fresh profile, no network but loopback (every host name fails to resolve; the server is
reached by IP), and a real keyboard: keys are dispatched as input events, so the page's own script sees them.
"""

import base64
import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from .live import stop_process

CHROMIUM = Path("/usr/bin/chromium")
# Headless, with nothing of its own reaching out (updates, sync, first-run pages); tests/test_report_browser.py too.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
START_TIMEOUT_S = 60.0


class Browser:
    def __init__(self, width: int = 1200, height: int = 900) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="console-chromium-"))
        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                *HEADLESS_FLAGS,
                "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # only the loopback server is reachable
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stack = contextlib.ExitStack()
        try:
            self.ws = self._stack.enter_context(
                connect(self._page_socket(), max_size=64 * 1024 * 1024, open_timeout=30)
            )
        except BaseException:
            self.close()
            raise
        self._id = 0
        self.send("Page.enable")
        self.send("Runtime.enable")

    def _page_socket(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc.stderr is not None
        port = None
        while port is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode} before DevTools started")
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else None
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not start DevTools in time")
        while time.monotonic() < deadline:
            pages = [
                t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json() if t["type"] == "page"
            ]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise RuntimeError("chromium opened no page")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.navigates(lambda: self.send("Page.navigate", url=url))

    def navigates(self, action: Any) -> None:
        """Run `action` and wait until it has loaded a new document (the old one's marker is gone)."""
        self.js("window.__before_navigation = true")
        action()
        self.wait_for("!window.__before_navigation && document.readyState === 'complete'")

    def wait_for(self, expression: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.js(expression):
                    return
            except RuntimeError:
                pass  # the page is between documents
            time.sleep(0.1)
        raise AssertionError(
            f"timed out waiting for {expression}; page: {self.js('location.href')}\n{self.text()[:2000]}"
        )

    def text(self) -> str:
        return str(self.js("document.body ? document.body.innerText : ''"))

    def press(self, key: str) -> None:
        """A real key press (keydown with text, keyup), as a person's keyboard gives it."""
        code = f"Key{key.upper()}" if key.isalpha() else key
        vk = ord(key.upper())
        self.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, text=key, windowsVirtualKeyCode=vk)
        self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)

    def screenshot(self, path: Path, width: int, full_page: bool = True) -> None:
        height = int(self.js("document.documentElement.scrollHeight")) if full_page else int(width * 2.16)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=min(height, 4000),
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)["data"]
        path.write_bytes(base64.b64decode(data))
        self.send("Emulation.clearDeviceMetricsOverride")

    def close(self) -> None:
        try:
            if getattr(self, "_stack", None) is not None:
                self._stack.close()
        finally:
            stop_process(self.proc)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
