"""Headless Chromium driven over the DevTools protocol: Debian's `/usr/bin/chromium`, no
browser download. A test navigates, runs JavaScript in the page, waits on the DOM with a
deadline and takes screenshots; it clicks and types the way a page script would (`click()`
and `fill()` dispatch the events a form reacts to).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.wait import wait_until

CHROMIUM = "/usr/bin/chromium"
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class BrowserError(AssertionError):
    """The page threw, or the protocol answered an error."""


class Browser:
    """One headless Chromium with one page, on a private event loop thread."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 900) -> None:
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._ids = itertools.count(1)
        #: Uncaught exceptions the page threw (a test asserts there are none).
        self.errors: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        try:
            endpoint = self._endpoint()
            self._call(self._connect(endpoint))
        except BaseException:
            self.close()
            raise

    def _endpoint(self) -> str:
        assert self.proc.stderr is not None
        for _ in range(200):
            line = self.proc.stderr.readline()
            if not line:
                break
            found = _LISTENING.search(line)
            if found:
                # Keep draining stderr so chromium never blocks on a full pipe.
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()
                return found.group(1)
        raise BrowserError("chromium did not start its DevTools endpoint")

    def _call(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self, endpoint: str) -> None:
        base = "http://" + endpoint.split("//", 1)[1].split("/", 1)[0]
        self._session = aiohttp.ClientSession()
        async with self._session.get(base + "/json/list") as resp:
            targets = await resp.json(content_type=None)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"],
                                                  max_msg_size=64 * 1024 * 1024)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self._send("Page.enable")
        await self._send("Runtime.enable")

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            if data.get("method") == "Runtime.exceptionThrown":
                self.errors.append(data["params"]["exceptionDetails"])
            future = self._pending.pop(data.get("id"), None)
            if future is not None and not future.done():
                future.set_result(data)

    async def _send(self, method: str, **params: Any) -> dict:
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        data = await asyncio.wait_for(future, 60)
        if "error" in data:
            raise BrowserError(f"{method}: {data['error']}")
        return data["result"]

    def send(self, method: str, **params: Any) -> dict:
        """One DevTools command; its result."""
        return self._call(self._send(method, **params))

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        wait_until(lambda: self.eval("document.readyState") == "complete", timeout=30,
                   message=f"{url} to load")

    def wait(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        return wait_until(lambda: self.eval(expression), timeout=timeout, message=expression,
                          interval=0.2)

    def text(self, selector: str) -> str:
        return self.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText "
                         "|| ''")

    def click(self, selector: str) -> None:
        self.wait(f"!!document.querySelector({json.dumps(selector)})")
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")

    def fill(self, selector: str, value: str) -> None:
        """Set an input's value as typing would (input and change events)."""
        self.wait(f"!!document.querySelector({json.dumps(selector)})")
        self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.value = {json.dumps(value)};
            e.dispatchEvent(new Event('input', {{bubbles: true}}));
            e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"],
                               "height": min(size["height"], 4000), "scale": 1})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        async def shut() -> None:
            if getattr(self, "_ws", None) is not None:
                await self._ws.close()
            if getattr(self, "_session", None) is not None:
                await self._session.close()

        with contextlib.suppress(Exception):  # best effort: the process is killed below
            self._call(shut(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.proc.kill()
        self.proc.wait(10)
