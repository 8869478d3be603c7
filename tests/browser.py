"""A real headless Chromium for the web page's tests, driven over the W3C WebDriver protocol.

ChromeDriver (Debian package ``chromium-driver``) speaks WebDriver over HTTP; the few calls a
test needs are plain JSON requests, so the tests drive the browser with httpx and need no
browser-automation library. ``.ci/run`` installs Chromium and ChromeDriver when they are missing.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

__all__ = ["Browser", "Element", "browser", "chromium_missing"]

_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM = os.environ.get("REGIE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("REGIE_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")

#: What this machine's closed network needs: no background fetches, no first-run dialogs.
_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is not installed (Debian packages chromium and chromium-driver)"
    return None


class Element:
    def __init__(self, browser: Browser, ref: str) -> None:
        self._b = browser
        self._ref = ref

    @property
    def text(self) -> str:
        return str(self._b._call("GET", f"element/{self._ref}/text"))

    def attribute(self, name: str) -> str | None:
        value = self._b._call("GET", f"element/{self._ref}/attribute/{name}")
        return None if value is None else str(value)

    def click(self) -> None:
        self._b._call("POST", f"element/{self._ref}/click", {})

    def type(self, text: str) -> None:
        self._b._call("POST", f"element/{self._ref}/value", {"text": text})

    def find(self, css: str) -> Element:
        found = self._b._call("POST", f"element/{self._ref}/element", {"using": "css selector", "value": css})
        return Element(self._b, found[_ELEMENT])

    def find_all(self, css: str) -> list[Element]:
        query = {"using": "css selector", "value": css}
        found = self._b._call("POST", f"element/{self._ref}/elements", query)
        return [Element(self._b, f[_ELEMENT]) for f in found]


class Browser:
    """One Chromium session: open pages, find elements by CSS, click, type, read text."""

    def __init__(self, client: httpx.Client, session: str) -> None:
        self._client = client
        self._session = session

    def get(self, url: str) -> None:
        self._call("POST", "url", {"url": url})

    @property
    def url(self) -> str:
        return str(self._call("GET", "url"))

    def wait_for_url(self, part: str, timeout: float = 10.0) -> str:
        """The URL once it contains ``part`` (a click's navigation has finished)."""
        deadline = time.monotonic() + timeout
        while part not in (url := self.url):
            if time.monotonic() > deadline:
                raise AssertionError(f"the browser stayed at {url}, expected a URL with {part!r}")
            time.sleep(0.05)
        return url

    @property
    def title(self) -> str:
        return str(self._call("GET", "title"))

    def find(self, css: str) -> Element:
        found = self._call("POST", "element", {"using": "css selector", "value": css})
        return Element(self, found[_ELEMENT])

    def find_all(self, css: str) -> list[Element]:
        found = self._call("POST", "elements", {"using": "css selector", "value": css})
        return [Element(self, f[_ELEMENT]) for f in found]

    def text(self) -> str:
        return self.find("body").text

    def screenshot(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(base64.b64decode(self._call("GET", "screenshot")))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._client.request(method, f"/session/{self._session}/{path}", json=body)
        data = response.json()
        if response.status_code != 200:
            value = data.get("value", {})
            raise AssertionError(f"WebDriver {method} {path}: {value.get('error')}: {value.get('message')}")
        return data.get("value")


@contextmanager
def browser() -> Iterator[Browser]:
    """Start ChromeDriver on a free port, open one headless Chromium session, and clean up."""
    port = _free_port()
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            _wait_ready(client)
            capabilities = {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": _ARGS},
            }
            created = client.post("/session", json={"capabilities": {"alwaysMatch": capabilities}})
            value = created.json()["value"]
            if "sessionId" not in value:
                raise AssertionError(f"Chromium did not start: {value}")
            session = value["sessionId"]
            # After a click that navigates, elements of the new page appear a moment later:
            # finding an element waits up to 5 s for it, as a person would.
            client.post(f"/session/{session}/timeouts", json={"implicit": 5000, "pageLoad": 30000})
            try:
                yield Browser(client, session)
            finally:
                client.delete(f"/session/{session}")
    finally:
        driver.terminate()
        driver.wait(timeout=10)


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if client.get("/status").json()["value"]["ready"]:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError("ChromeDriver did not become ready in 20 s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
