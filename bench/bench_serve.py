#!/usr/bin/env python3
"""Load test of `sam serve` over loopback: click-to-mask latency (predict on a
cached image, one point, RLE out) with N concurrent clients, p50 / p99; upload +
encode against the server's encoder time; the server's memory with
--max-images 8 (model alone, then 8 cached images, then under load).

    bench/bench_serve.py --bin build/release/bin --model vit_b.safetensors [--clients 4]
                         [--seconds 20] [--threads 2] [--decoders N] [--mmap-threshold-kb N] [--json]

Bounded: each phase runs at most --seconds. Loopback only.
"""
import argparse
import io
import json
import os
import statistics
import sys
import threading
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "serve"))
from serve_util import Server  # noqa: E402


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))] if v else float("nan")


def test_image(seed, w=1280, h=960):
    """A smooth synthetic photo-like image (JPEG), different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(6):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(60, 400)
            img[..., c] += rng.uniform(40, 120) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    buf = io.BytesIO()
    Image.fromarray(np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue(), w, h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-images", type=int, default=8)
    ap.add_argument("--decoders", type=int, default=0, help="sam serve --decoders (default: the server's)")
    ap.add_argument("--mmap-threshold-kb", type=int, default=0,
                    help="sam serve --mmap-threshold-kb (default: the server's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    extra = ["--decoders", str(args.decoders)] if args.decoders else []
    if args.mmap_threshold_kb:
        extra += ["--mmap-threshold-kb", str(args.mmap_threshold_kb)]
    server = Server(os.path.join(args.bin, "sam"), args.model, "--threads", str(args.threads), "--max-images",
                    str(args.max_images), "--quiet", *extra)
    out = {"clients": args.clients, "threads": args.threads, "max_images": args.max_images,
           "decoders": args.decoders or "default"}
    try:
        time.sleep(0.5)
        out["rss_model_mb"] = server.rss_kb() / 1024
        out["anon_model_mb"] = server.rss_kb("RssAnon") / 1024
        # Upload + encode: the round trip against the server's encoder time.
        uploads, image_ids = [], []
        for k in range(args.max_images):
            body, w, h = test_image(k)
            t0 = time.perf_counter()
            status, ans = server.json("POST", "/v1/images", body, {"Content-Type": "image/jpeg"}, timeout=600)
            wall = (time.perf_counter() - t0) * 1000
            assert status == 201, ans
            uploads.append((wall, ans["encode_ms"]))
            image_ids.append(ans["image_id"])
        out["upload_ms"] = [round(u[0], 1) for u in uploads]
        out["encode_ms"] = [round(u[1], 1) for u in uploads]
        out["upload_overhead_pct"] = round(100 * (sum(u[0] for u in uploads) / sum(u[1] for u in uploads) - 1), 2)
        out["rss_cached_mb"] = server.rss_kb() / 1024
        out["anon_cached_mb"] = server.rss_kb("RssAnon") / 1024
        out["file_cached_mb"] = server.rss_kb("RssFile") / 1024
        image_id = image_ids[-1]
        # Warm-up: one decoder session per client holding the image.
        for _ in range(2 * args.clients):
            server.json("POST", f"/v1/images/{image_id}/predict", {"points": [[640, 480]]})
        lat, decode, errors = [], [], []
        lock = threading.Lock()
        stop = time.time() + args.seconds
        peak = [0, 0]

        def client(k):
            rng = np.random.default_rng(100 + k)
            while time.time() < stop:
                p = [float(rng.uniform(0, w)), float(rng.uniform(0, h))]
                t0 = time.perf_counter()
                status, ans = server.json("POST", f"/v1/images/{image_id}/predict", {"points": [p]})
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if status != 200:
                        errors.append(ans)
                    else:
                        lat.append(ms)
                        decode.append(ans["decode_ms"])

        def sample_rss():
            while time.time() < stop:
                peak[0] = max(peak[0], server.rss_kb())
                peak[1] = max(peak[1], server.rss_kb("RssAnon"))
                time.sleep(0.2)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        threads.append(threading.Thread(target=sample_rss))
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        out.update({
            "requests": len(lat), "errors": len(errors), "seconds": round(elapsed, 1),
            "throughput_rps": round(len(lat) / elapsed, 1),
            "latency_p50_ms": round(statistics.median(lat), 2) if lat else None,
            "latency_p99_ms": round(percentile(lat, 99), 2),
            "decode_p50_ms": round(statistics.median(decode), 2) if decode else None,
            "decode_p99_ms": round(percentile(decode, 99), 2),
            "rss_peak_under_load_mb": round(peak[0] / 1024, 1),
            "anon_peak_under_load_mb": round(peak[1] / 1024, 1),
        })
        out["anon_growth_over_model_mb"] = round(max(out["anon_peak_under_load_mb"], out["anon_cached_mb"]) -
                                                 out["anon_model_mb"], 1)
        out["rss_growth_over_model_mb"] = round(max(out["rss_peak_under_load_mb"], out["rss_cached_mb"]) -
                                                out["rss_model_mb"], 1)
        out["load_average"] = os.getloadavg()
    finally:
        server.stop()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"upload+encode: round trip vs encoder time +{out['upload_overhead_pct']}% "
              f"(encode ms {out['encode_ms']})")
        print(f"predict, {args.clients} clients, {out['requests']} requests in {out['seconds']} s "
              f"({out['throughput_rps']} /s, {out['errors']} errors): p50 {out['latency_p50_ms']} ms, "
              f"p99 {out['latency_p99_ms']} ms; server decode p50 {out['decode_p50_ms']} ms, p99 {out['decode_p99_ms']} ms")
        print(f"RSS: model {out['rss_model_mb']:.0f} MB, {args.max_images} images cached {out['rss_cached_mb']:.0f} MB, "
              f"peak under load {out['rss_peak_under_load_mb']:.0f} MB (model + {out['rss_growth_over_model_mb']} MB; "
              f"heap (RssAnon) model + {out['anon_growth_over_model_mb']} MB, the rest the model file's pages); "
              f"load average {out['load_average']}")
    return 0 if not out.get("errors") else 1


if __name__ == "__main__":
    sys.exit(main())
