"""The built documentation, opened in headless Chromium.

Builds are checked where a reader sees them: the index and one gallery page
are loaded in a real browser, which must log no error, load every image the
page shows (the gallery's plots among them) and draw a screenshot of the
expected size. It needs the built site (``make -C docs html``, or the folder
in ``GDCORE_DOCS_HTML``) and Chromium (Debian's ``chromium``, or the binary in
``GDCORE_CHROMIUM``), and skips without them, unless ``GDCORE_REQUIRE_DOCS=1``
(as in ``.ci/run``) turns the skip into a failure.

Chromium is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages ended by a NUL byte on file
descriptors 3 and 4), so the test needs nothing beyond the standard library.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

HTML = Path(os.environ.get("GDCORE_DOCS_HTML")
            or Path(__file__).resolve().parent.parent / "docs" / "_build" / "html")
WIDTH, HEIGHT = 1280, 900
TIMEOUT = 60.0


def _chromium() -> Optional[str]:
    return os.environ.get("GDCORE_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None)


def _missing() -> Optional[str]:
    if not (HTML / "index.html").is_file():
        return f"the documentation is not built ({HTML / 'index.html'} is missing)"
    if _chromium() is None:
        return "Chromium is not installed (apt-get install chromium)"
    return None


def _require() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("GDCORE_REQUIRE_DOCS") == "1":
        pytest.fail(reason + ", and GDCORE_REQUIRE_DOCS=1 requires the check")
    pytest.skip(reason)


class Browser:
    """Headless Chromium, one tab, spoken to by the DevTools protocol over a pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium's ends, moved above 9 so that making them descriptors 3 and 4 clobbers neither
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # no sanitizer runtime
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}"]
        # bash hands them over as 3 and 4 (dash takes one-digit descriptors only; no
        # preexec_fn, which is unsafe in a process with threads)
        self.process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", f'exec "$@" 3<&{ends[0]} 4>&{ends[1]}',
             "chromium", *args],
            pass_fds=ends, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: List[Dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                  height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def _message(self, deadline: float) -> Dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = False, **params: Any) -> Dict[str, Any]:
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._message(deadline))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> List[str]:
        """What the page reported as an error: exceptions, console.error, failed loads."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description")))
                                    for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Any:
    _require()
    b = Browser(str(_chromium()), tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def _png_size(png: bytes) -> "tuple[int, int]":
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", png[16:24])


# Each image's URL, whether it finished loading, its pixel size and its size on the page.
IMAGES = """Array.from(document.images).map(img => {
    const box = img.getBoundingClientRect();
    return {src: img.currentSrc, complete: img.complete, natural: [img.naturalWidth,
            img.naturalHeight], shown: [box.width, box.height]};
})"""


def _open(browser: Browser, page: Path, shots: Path) -> Dict[str, Any]:
    """Load ``page``; its errors, title, images and a full-page screenshot's PNG bytes."""
    browser.events.clear()
    browser.call("Page.navigate", session=True, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")
    browser.evaluate("document.fonts.ready.then(() => true)")
    png = base64.b64decode(browser.call("Page.captureScreenshot", session=True, format="png",
                                        captureBeyondViewport=True)["data"])
    (shots / (page.stem + ".png")).write_bytes(png)
    return {"errors": browser.errors(), "title": browser.evaluate("document.title"),
            "images": browser.evaluate(IMAGES), "png": png,
            "height": browser.evaluate("document.documentElement.scrollHeight")}


def _check_rendered(seen: Dict[str, Any], title: str, min_images: int) -> None:
    assert seen["errors"] == [], "the page logged errors:\n" + "\n".join(seen["errors"])
    assert title in seen["title"]
    images = seen["images"]
    assert len(images) >= min_images, f"{len(images)} images, expected {min_images} or more"
    broken = [img["src"] for img in images if not (img["complete"] and min(img["natural"]) > 0)]
    assert not broken, f"images that did not load: {broken}"
    width, height = _png_size(seen["png"])
    # the whole page: the window's width (less a scroll bar), the document's height
    assert WIDTH - 32 <= width <= WIDTH and height >= min(seen["height"], HEIGHT) - 8, \
        f"screenshot {width} x {height}, page {WIDTH} x {seen['height']}"
    # A blank page compresses to a few KB; a page of text and plots to far more.
    assert len(seen["png"]) > 30_000, f"a suspiciously small screenshot ({len(seen['png'])} B)"


def test_index_renders(browser: Browser, tmp_path: Path) -> None:
    seen = _open(browser, HTML / "index.html", tmp_path)
    _check_rendered(seen, "gdcore", min_images=0)
    text = browser.evaluate("document.body.innerText")
    for heading in ("User guide", "Gallery", "API reference"):
        assert heading in text


def test_gallery_page_renders_its_plots(browser: Browser, tmp_path: Path) -> None:
    page = HTML / "auto_examples" / "plot_04_optimizer_paths.html"
    seen = _open(browser, page, tmp_path)
    _check_rendered(seen, "Paths over L(w, b)", min_images=1)
    plots = [img for img in seen["images"] if "sphx_glr_plot_04" in img["src"]]
    assert plots, "the example's figure is not on the page"
    for img in plots:  # drawn at a readable size, not collapsed
        assert img["natural"][0] >= 600 and img["shown"][0] >= 300, img
