"""Helpers shared by the `sam serve` tests and bench/bench_serve.py: start the
server on a free port, talk to it over loopback (http.client); rle_to_mask from tests/pylib."""
import http.client
import json
import os
import re
import subprocess
import threading
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from coco_rle import rle_to_mask  # noqa: E402,F401 (re-exported for the serve tests)


class Server:
    """`sam serve --port 0 ...` as a child process; stderr (the access log) is collected."""

    def __init__(self, sam, model, *extra):
        self.proc = subprocess.Popen([sam, "serve", "-m", model, "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://([^:]+):(\d+)", line)
        if not m:
            err = self.proc.stderr.read()
            raise RuntimeError(f"sam serve did not start: {line!r} {err!r}")
        self.host, self.port = m.group(1), int(m.group(2))
        self.log = []
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers dict, body bytes); a dict body is sent as JSON."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, timeout=120):
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        ctype = hdrs.get("Content-Type", "")
        if "application/json" not in ctype:
            raise AssertionError(f"{method} {path}: {status} with Content-Type {ctype!r}: {data[:200]!r}")
        return status, json.loads(data)

    def rss_kb(self, field="VmRSS"):
        """Resident memory (KiB) from /proc: VmRSS, RssAnon (heap: what the server
        allocated) or RssFile (the model file's mapped pages, clean and shared)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)


def convert_model(bin_dir, pth, out):
    rc = subprocess.run([os.path.join(bin_dir, "sam-convert"), pth, out, "-q"], capture_output=True, text=True)
    if rc.returncode != 0:
        raise RuntimeError(f"sam-convert {pth}: {rc.stderr}")
    return out


def wait_for(predicate, seconds=10.0):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
