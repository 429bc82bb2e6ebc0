#!/usr/bin/env python3
"""The `sam serve` web page in a real headless Chromium (Debian `chromium`),
driven over the DevTools protocol (--remote-debugging-pipe: JSON messages ending
in a NUL byte on fds 3 / 4; only the standard library):
load the page, open an image through the file input, click a foreground point,
right-click a background point, drag a box, undo / redo; check that the overlay
shows mask pixels, that the page states the decode time, and that the server
logged the predict calls. A screenshot is kept (--screenshot) as a CI artefact.

    test_serve_page.py --bin BUILD/bin --data BUILD/testdata --screenshot BUILD/serve_page.png

Exits 77 (ctest: skipped) when no chromium is installed.
"""
import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, convert_model, wait_for  # noqa: E402


class DevTools:
    """A DevTools session over --remote-debugging-pipe, attached to one page."""

    def __init__(self, chromium, profile):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds():  # the child reads commands on fd 3 and writes answers on fd 4
            r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1000,800", "about:blank"],
            preexec_fn=wire_fds, pass_fds=(3, 4, to_child_r, from_child_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next = 0
        self.events = []
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, timeout=30, **params):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open_page(self, url):
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Page.navigate", url=url)
        return self.wait_js("document.readyState === 'complete' && !!window.samApp", 30)

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_js(self, expression, seconds=20):
        return wait_for(lambda: bool(self.js(expression)), seconds)

    def mouse(self, kind, x, y, button="left", buttons=0):
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button, buttons=buttons, clickCount=1)

    def click(self, x, y, button="left"):
        self.mouse("mousePressed", x, y, button, 1 if button == "left" else 2)
        self.mouse("mouseReleased", x, y, button)

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


MASK_PIXELS = """(() => { const c = document.getElementById('overlay');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] === 130) n++; return n; })()"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--screenshot", required=True)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("skipped: no chromium installed (Debian package `chromium`, see scripts/install_deps.sh)")
        return 77
    failures = []

    def check(ok, msg):
        if not ok:
            failures.append(msg)
            print("FAIL:", msg, flush=True)

    work = tempfile.mkdtemp(prefix="sam_serve_page_")
    server = browser = None
    try:
        model = convert_model(args.bin, os.path.join(args.data, "tiny.pth"), os.path.join(work, "tiny.safetensors"))
        server = Server(os.path.join(args.bin, "sam"), model, "--threads", "2")
        browser = DevTools(chromium, os.path.join(work, "profile"))
        url = f"http://{server.host}:{server.port}/"
        check(browser.open_page(url), f"the page at {url} did not load")
        print("== page loaded")
        image = os.path.join(args.data, "ref_tiny_point", "image.png")
        doc = browser.call("DOM.getDocument")["root"]["nodeId"]
        node = browser.call("DOM.querySelector", nodeId=doc, selector="#file")["nodeId"]
        browser.call("DOM.setFileInputFiles", nodeId=node, files=[image])
        check(browser.wait_js("samApp.imageId !== null && samApp.width === 320", 30), "the upload did not finish")
        print("== image uploaded:", browser.js("document.getElementById('status').textContent"))
        rect = browser.js("(() => { const r = document.getElementById('overlay').getBoundingClientRect();"
                          " return [r.left, r.top, r.width, r.height]; })()")
        to_screen = lambda x, y: (rect[0] + x * rect[2] / 320, rect[1] + y * rect[3] / 213)  # noqa: E731
        browser.click(*to_screen(150, 100))
        check(browser.wait_js("samApp.predictCalls >= 1", 20), "no predict answer after a left click")
        pixels = browser.js(MASK_PIXELS)
        check(pixels > 0, "the overlay shows no mask pixels after a click")
        status = browser.js("document.getElementById('status').textContent")
        check("decode" in status and " ms" in status, f"the page does not state the decode time: {status!r}")
        print(f"== left click: {pixels} mask pixels; status: {status}")
        browser.click(*to_screen(60, 50), button="right")
        check(browser.wait_js("samApp.predictCalls >= 2", 20), "no predict answer after a right click")
        check(browser.js("JSON.stringify(samApp.history[samApp.cursor].points.map(p => p[2]))") == "[1,0]",
              "right click did not add a background point")
        x0, y0 = to_screen(40, 30)
        x1, y1 = to_screen(250, 190)
        browser.mouse("mousePressed", x0, y0, "left", 1)
        for t in (0.3, 0.6, 1.0):
            browser.mouse("mouseMoved", x0 + t * (x1 - x0), y0 + t * (y1 - y0), "left", 1)
        browser.mouse("mouseReleased", x1, y1, "left")
        check(browser.wait_js("samApp.predictCalls >= 3", 20), "no predict answer after dragging a box")
        box = browser.js("samApp.history[samApp.cursor].box")
        check(box is not None and abs(box[0] - 40) < 3 and abs(box[3] - 190) < 3, f"dragged box: {box}")
        check(browser.js(MASK_PIXELS) > 0, "no mask pixels after the box")
        browser.js("document.getElementById('undo').click()")
        check(browser.js("samApp.cursor") == 2 and browser.js("samApp.history[samApp.cursor].box") is None,
              "undo did not go back to the two points")
        browser.js("document.getElementById('redo').click()")
        check(browser.js("samApp.history[samApp.cursor].box") is not None, "redo did not restore the box")
        print("== right click, box, undo / redo work")
        # Downloads: the selected mask as PNG, the annotations as COCO JSON.
        downloads = os.path.join(work, "downloads")
        os.makedirs(downloads)
        browser.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=downloads)
        browser.js("document.getElementById('keep').click()")
        check(browser.js("samApp.kept.length") == 1, "Keep mask did not keep the mask")
        browser.click(*to_screen(150, 100))
        check(browser.wait_js("samApp.predictCalls >= 4", 20), "no predict answer after Keep mask")
        browser.js("document.getElementById('download-mask').click()")
        browser.js("document.getElementById('download-coco').click()")
        names = ("image_mask.png", "image_coco.json")
        check(wait_for(lambda: all(os.path.exists(os.path.join(downloads, n)) for n in names), 20),
              f"downloads missing: {os.listdir(downloads)}")
        if all(os.path.exists(os.path.join(downloads, n)) for n in names):
            from PIL import Image
            png = Image.open(os.path.join(downloads, names[0]))
            check(png.size == (320, 213), f"mask PNG of size {png.size}")
            coco = json.load(open(os.path.join(downloads, names[1])))
            check(len(coco["annotations"]) == 2 and coco["images"][0]["width"] == 320 and
                  all("counts" in a["segmentation"] for a in coco["annotations"]), f"COCO JSON: {str(coco)[:300]}")
        browser.js("document.getElementById('everything').click()")
        check(browser.wait_js("Array.isArray(samApp.everything)", 60), "Everything gave no answer")
        check(any("/everything 200" in line for line in server.log), "the server did not log /everything")
        print("== keep, mask PNG and COCO JSON downloads, everything work")
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot))
        print("== screenshot:", args.screenshot)
        predicts = [line for line in server.log if "/predict 200" in line]
        check(len(predicts) >= 3, f"the server logged {len(predicts)} predict calls: {server.log[-5:]}")
        check(any(line.startswith("sam serve: GET / 200") for line in server.log), "the server did not log GET /")
    finally:
        if browser:
            browser.close()
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("the sam serve page works in headless Chromium")
    return 0


if __name__ == "__main__":
    sys.exit(main())
