#!/usr/bin/env python3
"""`sam serve` over loopback on the tiny model: every endpoint, every error path,
concurrent clients, the LRU bound, and predict / everything / embedding equal to
what `sam segment` / `sam everything` write for the same image and prompts.

    test_serve_api.py --bin BUILD/bin --data BUILD/testdata [--stress N]
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, convert_model, rle_to_mask, wait_for  # noqa: E402

failures = []


def check(ok, msg):
    if not ok:
        failures.append(msg)
        print("FAIL:", msg, flush=True)
    return ok


def expect(server, method, path, status, body=None, contains=None, headers=None):
    """A JSON answer with this status (and error text containing `contains`)."""
    got, data = server.json(method, path, body, headers)
    ok = check(got == status, f"{method} {path}: status {got}, expected {status}: {data}")
    if ok and status >= 400:
        ok = check(set(data) == {"error"} and isinstance(data["error"], str), f"{method} {path}: error body {data}")
        if ok and contains:
            check(contains in data["error"], f"{method} {path}: {data['error']!r} lacks {contains!r}")
    return data


def png_bytes(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def segment_cli(sam, model, image, prompts, outdir, extra=()):
    """Masks (bool arrays, best first) and result.json of `sam segment`."""
    cmd = [sam, "segment", "-m", model, "-i", image, "-o", outdir, "--threads", "2", *prompts, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    result = json.load(open(os.path.join(outdir, "result.json")))
    masks = [np.array(Image.open(os.path.join(outdir, m["file"]))) == 255 for m in result["masks"]]
    return masks, result


def compare_with_segment(name, answer, masks, result):
    got = answer["masks"]
    if not check(len(got) == len(masks), f"{name}: {len(got)} masks, sam segment wrote {len(masks)}"):
        return
    for k, (g, want, rec) in enumerate(zip(got, masks, result["masks"])):
        m = rle_to_mask(g["segmentation"])
        check(m.shape == want.shape and bool((m == want).all()), f"{name}: mask {k} differs from sam segment's")
        check(g["score"] == rec["score"], f"{name}: mask {k} score {g['score']} vs {rec['score']}")
        check(g["area"] == rec["area"] and g["bbox"] == rec["bbox_xywh"], f"{name}: mask {k} area/bbox {g} vs {rec}")
        check(g["mask_index"] == rec["mask_index"] and g["prompt_set"] == rec["prompt_set"], f"{name}: mask {k} order")


def test_endpoints(server, sam, model, data, work):
    ref = os.path.join(data, "ref_tiny_point")
    image_path = os.path.join(ref, "image.png")
    image_bytes = open(image_path, "rb").read()
    print("== health, model, upload")
    expect(server, "GET", "/healthz", 200)
    info = expect(server, "GET", "/v1/model", 200)
    check(info.get("variant") == "tiny" and info.get("embedding_shape") == [1, 32, 16, 16], f"/v1/model: {info}")
    up = expect(server, "POST", "/v1/images", 201, image_bytes, headers={"Content-Type": "image/png"})
    check(up.get("width") == 320 and up.get("height") == 213 and up.get("encode_ms", 0) > 0 and not up["cached"],
          f"upload: {up}")
    image_id = up["image_id"]
    again = expect(server, "POST", "/v1/images", 200, image_bytes)  # curl --data-binary's form content type
    check(again["image_id"] == image_id and again["cached"] and again["encode_ms"] == 0, f"re-upload: {again}")
    boundary = "sam-test-boundary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + image_bytes + f"\r\n--{boundary}--\r\n".encode()
    multi = expect(server, "POST", "/v1/images", 200, form,
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    check(multi.get("image_id") == image_id, f"multipart upload: {multi}")
    got = expect(server, "GET", f"/v1/images/{image_id}", 200)
    check(got.get("width") == 320, f"GET image: {got}")
    listed = expect(server, "GET", "/v1/images", 200)
    check([i["image_id"] for i in listed["images"]] == [image_id], f"GET /v1/images: {listed}")
    rgb = np.array(Image.open(image_path).convert("RGB"))
    for fmt in ("JPEG", "BMP"):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt)
        r = expect(server, "POST", "/v1/images", 201, buf.getvalue(), headers={"Content-Type": "image/" + fmt.lower()})
        check(r.get("width") == 320 and r.get("height") == 213, f"{fmt} upload: {r}")
        expect(server, "DELETE", f"/v1/images/{r['image_id']}", 200)
    print("   ok")

    print("== predict equals sam segment")
    (px, py), label = json.load(open(os.path.join(ref, "meta.json")))["points"][0], 1
    masks, result = segment_cli(sam, model, image_path, ["-p", f"{px},{py},{label}"], os.path.join(work, "seg1"))
    ans = expect(server, "POST", f"/v1/images/{image_id}/predict", 200, {"points": [[px, py, label]]})
    check(ans.get("decode_ms", -1) >= 0 and ans.get("multimask") is True, f"predict: {list(ans)}")
    compare_with_segment("one point", ans, masks, result)
    ans2 = expect(server, "POST", f"/v1/images/{image_id}/predict", 200, {"points": [[px, py]], "labels": [1]})
    check([m["segmentation"] for m in ans2["masks"]] == [m["segmentation"] for m in ans["masks"]],
          "points + labels differs from [x, y, label]")
    prompts = ["-b", "40,30,250,190", "-b", "10,10,120,100", "-p", "60,50,0"]
    masks, result = segment_cli(sam, model, image_path, prompts, os.path.join(work, "seg2"), ["--single-mask"])
    ans = expect(server, "POST", f"/v1/images/{image_id}/predict", 200,
                 {"boxes": [[40, 30, 250, 190], [10, 10, 120, 100]], "points": [[60, 50, 0]], "multimask": False})
    compare_with_segment("two boxes + background point", ans, masks, result)
    # Six masks after three and two: the decoder session's reused mask buffer grows
    # (the answers that follow use a view of part of it).
    masks, result = segment_cli(sam, model, image_path, prompts, os.path.join(work, "seg2m"))
    ans = expect(server, "POST", f"/v1/images/{image_id}/predict", 200,
                 {"boxes": [[40, 30, 250, 190], [10, 10, 120, 100]], "points": [[60, 50, 0]]})
    compare_with_segment("two boxes + background point, multimask", ans, masks, result)
    # Refinement: the logits of a single-mask answer fed back as mask_input equal
    # --save-logits of the same prediction fed back with --mask-input.
    first = expect(server, "POST", f"/v1/images/{image_id}/predict", 200,
                   {"points": [[px, py, 1]], "multimask": False})
    logits_npy = os.path.join(work, "logits.npy")
    segment_cli(sam, model, image_path, ["-p", f"{px},{py},1"], os.path.join(work, "seg3"),
                ["--single-mask", "--save-logits", logits_npy])
    masks, result = segment_cli(sam, model, image_path, ["-p", f"{px},{py},1", "-p", "200,150,0"],
                                os.path.join(work, "seg4"), ["--mask-input", logits_npy])
    ans = expect(server, "POST", f"/v1/images/{image_id}/predict", 200,
                 {"points": [[px, py, 1], [200, 150, 0]], "mask_input": first["masks"][0]["logits_id"]})
    compare_with_segment("point + mask_input", ans, masks, result)
    print("   ok")

    print("== polygons")
    ans = expect(server, "POST", f"/v1/images/{image_id}/predict", 200, {"points": [[px, py]], "output": "both"})
    for k, m in enumerate(ans["masks"]):
        mask = rle_to_mask(m["segmentation"]).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        want = [c.reshape(-1).tolist() for c in contours]
        check(m["polygons"] == want, f"polygons of mask {k} differ from cv2.findContours (RETR_EXTERNAL, SIMPLE)")
    only = expect(server, "POST", f"/v1/images/{image_id}/predict", 200, {"points": [[px, py]], "output": "polygons"})
    check(all("segmentation" not in m and "polygons" in m for m in only["masks"]), "output polygons: has RLE")
    print("   ok")

    print("== everything equals sam everything")
    opts = {"points_per_side": 8, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    ev = expect(server, "POST", f"/v1/images/{image_id}/everything", 200, opts)
    outdir = os.path.join(work, "everything")
    p = subprocess.run([sam, "everything", "-m", model, "--input", image_path, "--output", outdir, "--convert-to-rle",
                        "--points-per-side", "8", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
                        "--threads", "2"], capture_output=True, text=True)
    check(p.returncode == 0, f"sam everything: {p.stderr}")
    want = json.load(open(os.path.join(outdir, "image.json")))
    check(len(want) > 0 and ev.get("masks") == want, f"everything: {len(ev.get('masks', []))} records vs "
                                                     f"{len(want)} from sam everything, or they differ")
    check(set(ev.get("timing", {})) >= {"encoder_ms", "decoder_ms", "total_ms"}, f"everything timing: {ev.get('timing')}")
    print("   ok")

    print("== embedding")
    status, headers, body = server.request("GET", f"/v1/images/{image_id}/embedding")
    emb_npy = os.path.join(work, "emb.npy")
    segment_cli(sam, model, image_path, ["-p", "10,10"], os.path.join(work, "seg5"), ["--save-embedding", emb_npy])
    if check(status == 200 and headers.get("Content-Type") == "application/octet-stream", f"embedding: {status}"):
        got = np.load(io.BytesIO(body))
        want = np.load(emb_npy)
        check(got.dtype == np.float32 and got.shape == (1, 32, 16, 16) and np.array_equal(got, want),
              f"embedding: {got.dtype} {got.shape} differs from sam segment --save-embedding")
    print("   ok")
    return image_id


def test_errors(server, image_id):
    print("== errors")
    p = f"/v1/images/{image_id}/predict"
    for method, path in (("POST", "/v1/images/0123456789abcdef/predict"), ("POST", "/v1/images/nope/everything"),
                         ("GET", "/v1/images/nope/embedding"), ("DELETE", "/v1/images/nope"),
                         ("GET", "/v1/images/nope")):
        expect(server, method, path, 404, {"points": [[1, 1]]} if method == "POST" else None, "unknown image id")
    expect(server, "GET", "/v2/nothing", 404, None, "no such endpoint")
    expect(server, "GET", "/nothing.js", 404)
    bad = [("not json", "bad JSON"), ("[1, 2]", "expected a JSON object"), ('{"points": [[1, 1]]', "bad JSON"),
           ({"pointz": [[1, 1]]}, "unknown field"), ({"points": [[321, 10]]}, "outside the 320x213 image"),
           ({"points": [[-1, 10]]}, "outside"), ({"points": [[10, 10, 2]]}, "label must be 1"),
           ({"points": [[10, "a"]]}, "expected a number"), ({"points": [[10]]}, "expected [x, y]"),
           ({"points": [[1, 1]] * 65}, "at most 64"), ({}, "no prompt given"),
           ({"box": [50, 50, 40, 60]}, "x1 > x0"), ({"box": [0, 0, 400, 100]}, "outside"),
           ({"box": [1, 2, 3]}, "expected an array of 4"), ({"box": [1, 1, 5, 5], "boxes": []}, "either box or boxes"),
           ({"boxes": [[0, 0, 5, 5]] * 17}, "at most 16"), ({"points": [[1, 1]], "multimask": 1}, "true or false"),
           ({"points": [[1, 1]], "output": "svg"}, "output"), ({"points": [[1, 1]], "labels": [1, 0]}, "labels"),
           ({"points": [[1, 1]], "mask_input": 7}, "logits_id")]
    for body, text in bad:
        raw = body.encode() if isinstance(body, str) else body
        expect(server, "POST", p, 400, raw, text, headers={"Content-Type": "application/json"})
    expect(server, "POST", p, 404, {"points": [[1, 1]], "mask_input": "L999999"}, "unknown logits id")
    ev = f"/v1/images/{image_id}/everything"
    for body, text in (({"points_per_side": 0}, "points_per_side"), ({"pred_iou_thresh": 2}, "pred_iou_thresh"),
                       ({"points_per_side": 1.5}, "integer"), ({"foo": 1}, "unknown field"),
                       ({"points_per_side": 256, "crop_n_layers": 2}, "exceed the limit")):
        expect(server, "POST", ev, 400, body, text)
    expect(server, "POST", "/v1/images", 400, b"", "empty upload")
    expect(server, "POST", "/v1/images", 415, b"GIF89a\x01\x00\x01\x00", "unsupported image format")
    png = png_bytes(np.zeros((20, 30, 3), np.uint8))
    expect(server, "POST", "/v1/images", 400, png[: len(png) // 2], headers={"Content-Type": "image/png"})
    expect(server, "POST", "/v1/images", 400, b"\xff\xd8\xff\xe0garbage", headers={"Content-Type": "image/jpeg"})
    check(server.alive(), "server died during the error tests")
    print("   ok")


def test_lru(server, data):
    print("== LRU bound (--max-images 2)")
    ids = []
    for k in range(3):
        arr = np.full((40, 60, 3), 40 * k + 10, np.uint8)
        ids.append(expect(server, "POST", "/v1/images", 201, png_bytes(arr))["image_id"])
    cached = [i["image_id"] for i in expect(server, "GET", "/v1/images", 200)["images"]]
    check(cached == [ids[2], ids[1]], f"after 3 uploads the cache holds {cached}, expected the last two")
    expect(server, "POST", f"/v1/images/{ids[0]}/predict", 404, {"points": [[5, 5]]}, "unknown image id")
    expect(server, "POST", f"/v1/images/{ids[1]}/predict", 200, {"points": [[5, 5]]})  # ids[1] most recent now
    new = expect(server, "POST", "/v1/images", 201, png_bytes(np.full((40, 60, 3), 200, np.uint8)))["image_id"]
    cached = [i["image_id"] for i in expect(server, "GET", "/v1/images", 200)["images"]]
    check(cached == [new, ids[1]], f"the least recently used (not the oldest upload) goes: {cached}")
    expect(server, "DELETE", f"/v1/images/{new}", 200)
    cached = [i["image_id"] for i in expect(server, "GET", "/v1/images", 200)["images"]]
    check(cached == [ids[1]], f"after DELETE: {cached}")
    print("   ok")


def test_concurrency(server, image_id):
    print("== concurrent clients")
    points = [[20 + 13 * k, 15 + 9 * k] for k in range(12)]
    sequential = [server.json("POST", f"/v1/images/{image_id}/predict", {"points": [p]})[1] for p in points]

    def one(k):
        return server.json("POST", f"/v1/images/{image_id}/predict", {"points": [points[k % len(points)]]})

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(48)))
    for k, (status, ans) in enumerate(results):
        want = sequential[k % len(points)]
        if not check(status == 200, f"concurrent predict {k}: {status} {ans}"):
            continue
        check([m["segmentation"] for m in ans["masks"]] == [m["segmentation"] for m in want["masks"]] and
              [m["score"] for m in ans["masks"]] == [m["score"] for m in want["masks"]],
              f"concurrent predict {k} differs from the sequential answer")
    # The same new bytes uploaded by several clients at once are encoded once.
    body = png_bytes(np.full((50, 70, 3), 77, np.uint8))
    with ThreadPoolExecutor(5) as pool:
        ups = list(pool.map(lambda _: server.json("POST", "/v1/images", body), range(5)))
    check(len({u[1].get("image_id") for u in ups}) == 1, f"concurrent uploads: {ups}")
    check(sorted(u[0] for u in ups) == [200, 200, 200, 200, 201], f"concurrent uploads encode once: {ups}")
    print("   ok")


def test_limits(sam, model, data):
    print("== limits: upload size 413, encoder queue 503, request time 503")
    server = Server(sam, model, "--max-upload-mb", "1", "--encode-queue", "0", "--request-timeout", "3",
                    "--threads", "2", "--quiet")
    try:
        big = os.urandom(1 << 20) + b"x"
        expect(server, "POST", "/v1/images", 413, b"\x89PNG\r\n\x1a\n" + big, "too large")
        expect(server, "POST", "/v1/images", 413, b"\x89PNG\r\n\x1a\n" + big, "too large",
               headers={"Content-Type": "image/png"})
        # The encoder slot is held for a whole `everything` run, which this one (10,000 prompts on
        # each of 5 crops) keeps until the request time limit (3 s) stops it. While it runs,
        # uploads find the encoder busy and the queue (0 places) full: 503, no waiting. The
        # slot is watched through GET /v1/model, so no timing of the test decides the outcome.
        first = expect(server, "POST", "/v1/images", 201, png_bytes(np.full((70, 90, 3), 30, np.uint8)))
        image_id = first["image_id"]
        with ThreadPoolExecutor(1) as pool:
            everything = pool.submit(server.json, "POST", f"/v1/images/{image_id}/everything",
                                     {"points_per_side": 100, "crop_n_layers": 1})
            busy = wait_for(lambda: everything.done() or server.json("GET", "/v1/model")[1]["encoder_running"] == 1)
            check(busy and not everything.done(), "the everything request never held the encoder")
            for k in range(3):
                expect(server, "POST", "/v1/images", 503, png_bytes(np.full((60, 80, 3), 9 * k + 1, np.uint8)),
                       "queue is full")
            status, answer = everything.result()
        check(status == 503 and "time limit" in answer.get("error", ""),
              f"everything past --request-timeout: {status} {answer}")
        # The slot is free again.
        expect(server, "POST", "/v1/images", 201, png_bytes(np.full((60, 80, 3), 200, np.uint8)))
        check(server.alive(), "server died during the limit tests")
    finally:
        server.stop()
    print("   ok")


def test_graceful_stop(sam, model):
    print("== SIGTERM: stop listening, answer the requests in flight, exit 0")
    server = Server(sam, model, "--threads", "2", "--quiet")
    try:
        image_id = expect(server, "POST", "/v1/images", 201, png_bytes(np.full((70, 90, 3), 60, np.uint8)))["image_id"]
        with ThreadPoolExecutor(1) as pool:
            # 4096 prompts: ~0.5 s of work (~15 s under ASan), in flight when the signal comes.
            everything = pool.submit(server.json, "POST", f"/v1/images/{image_id}/everything",
                                     {"points_per_side": 64})
            busy = wait_for(lambda: everything.done() or server.json("GET", "/v1/model")[1]["encoder_running"] == 1)
            check(busy and not everything.done(), "the everything request was not in flight")
            server.proc.terminate()
            status, answer = everything.result()
        check(status == 200 and "masks" in answer, f"the request in flight at SIGTERM: {status} {answer}")
        server.proc.wait(60)
        check(server.proc.returncode == 0, f"sam serve after SIGTERM: exit code {server.proc.returncode}")
        server.stop()  # joins the log reader
        check(any("sam serve: stopped (SIGTERM)" in line for line in server.log[-5:]),
              f"no stop message after SIGTERM: {server.log[-3:]}")
    finally:
        server.stop()
    print("   ok")


def test_cli_errors(sam, model, server):
    print("== command-line errors: one line, exit code")
    cases = [(["-m", "/nonexistent.safetensors"], 1, "no such file"),
             (["-m", model, "--port", str(server.port)], 1, "address in use"),
             (["-m", model, "--port", "70000"], 2, "not in range"),
             (["-m", model, "--max-images", "0"], 2, "not in range")]
    for args, rc, text in cases:
        p = subprocess.run([sam, "serve", *args], capture_output=True, text=True, timeout=60)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == rc and len(lines) == 1 and lines[0].startswith("sam: error:") and text in lines[0],
              f"sam serve {' '.join(args)}: rc {p.returncode}, stderr {p.stderr!r}")
    print("   ok")


def test_stress(server, image_id, n, rss_growth_mb):
    print(f"== {n} mixed valid and invalid requests from 4 clients")
    rss0 = server.rss_kb()
    png = png_bytes(np.full((30, 40, 3), 5, np.uint8))
    reqs = [("POST", f"/v1/images/{image_id}/predict", {"points": [[10, 10]]}, 200),
            ("POST", f"/v1/images/{image_id}/predict", b"{bad", 400),
            ("POST", f"/v1/images/{image_id}/predict", {"points": [[999, 10]]}, 400),
            ("POST", "/v1/images/ffff/predict", {"points": [[1, 1]]}, 404),
            ("POST", "/v1/images", b"nope", 415),
            ("POST", "/v1/images", png[:40], 400),
            ("GET", "/v1/model", None, 200),
            ("GET", "/healthz", None, 200),
            ("GET", f"/v1/images/{image_id}/embedding", None, 200),
            ("PUT", "/v1/images", b"x", 404)]
    wrong = []

    def one(k):
        method, path, body, status = reqs[k % len(reqs)]
        got = server.request(method, path, body)[0]
        if got != status:
            wrong.append((method, path, got, status))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))
    check(not wrong, f"stress: {len(wrong)} unexpected statuses, e.g. {wrong[:3]}")
    check(server.alive() and server.json("GET", "/healthz")[0] == 200, "server not healthy after the stress run")
    growth = (server.rss_kb() - rss0) / 1024
    print(f"   RSS {rss0 / 1024:.0f} MB -> {server.rss_kb() / 1024:.0f} MB")
    if rss_growth_mb > 0:
        check(growth < rss_growth_mb, f"RSS grew by {growth:.0f} MB over {n} requests")
    print("   ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--stress", type=int, default=1000, help="requests in the mixed stress run")
    ap.add_argument("--rss-growth-mb", type=float, default=64,
                    help="largest RSS growth over the stress run (0: not checked, e.g. under ASan, whose "
                         "quarantine keeps freed memory)")
    args = ap.parse_args()
    sam = os.path.join(args.bin, "sam")
    work = tempfile.mkdtemp(prefix="sam_serve_test_")
    server = None
    try:
        model = convert_model(args.bin, os.path.join(args.data, "tiny.pth"), os.path.join(work, "tiny.safetensors"))
        server = Server(sam, model, "--max-images", "2", "--threads", "2")
        image_id = test_endpoints(server, sam, model, args.data, work)
        test_errors(server, image_id)
        test_concurrency(server, image_id)
        test_cli_errors(sam, model, server)
        test_stress(server, image_id, args.stress, args.rss_growth_mb)
        test_lru(server, args.data)
        check(any("/predict 200" in line for line in server.log), "the access log has no predict line")
        bad = [line for line in server.log if "runtime error" in line or "Sanitizer" in line]
        check(not bad, f"sanitizer reports in the server's stderr: {bad[:3]}")
        test_limits(sam, model, args.data)
        test_graceful_stop(sam, model)
    finally:
        if server:
            server.stop()
            if failures:
                print("server log (last lines):\n  " + "\n  ".join(server.log[-20:]))
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all sam serve API tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
