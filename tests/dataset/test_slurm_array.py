#!/usr/bin/env python3
"""The Slurm job array of docs/cluster.md on a real single-node Slurm.

    test_slurm_array.py --bin BUILD/bin --data BUILD/testdata [--doc docs/cluster.md] [--command annotate]

Starts slurmctld and slurmd (Debian slurm-wlm 22.05) on localhost with a slurm.conf
in a temporary folder (auth/none, free ports, state and spool in the folder),
submits the doc's sbatch script for `sam everything` as an array of 4 tasks with
`sbatch --wait` (two tasks at a time on the 2-CPU node, all writing into one
folder), and checks that the merged output equals a single-process run byte for
byte and that the four shard logs list every image exactly once; submitted again
(a requeue), every image is skipped. With --command annotate: the doc's annotate
script the same way (YOLO-seg + COCO, then the doc's merge run). The daemons (and any
job step they started) are stopped at the end, also on failure. Exit 77 (ctest:
skipped) with the reason when Slurm cannot run here (not root, slurm-wlm missing).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataset_util import FAST, make_images, read_log, same_trees, tiny_model, tree  # noqa: E402

SKIP = 77
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def skip(reason):
    print(f"skipped: {reason}", flush=True)
    sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sbatch_script(doc, name):
    """The ```bash block after the <!-- sbatch:NAME --> marker of the doc."""
    text = open(doc).read()
    m = re.search(r"<!-- sbatch:" + name + r" -->\s*```bash\n(.*?)```", text, re.S)
    assert m, f"{doc}: no sbatch:{name} block"
    return m.group(1)


def slurm_conf(tmp):
    cpus = 2
    return f"""ClusterName=samtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/log/slurmctld.log
SlurmdLogFile={tmp}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def descendants(pids):
    """Every live process below `pids` (from /proc: the daemons' job steps)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], list(pids)
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class Slurm:
    """slurmctld + slurmd in the foreground (-D), in their own sessions; stop() ends them and their steps."""

    def __init__(self, tmp):
        self.tmp = tmp
        for d in ("state", "spool", "log"):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        self.conf = os.path.join(tmp, "slurm.conf")
        with open(self.conf, "w") as f:
            f.write(slurm_conf(tmp))
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.procs = []

    def start(self):
        for cmd, log in ((["slurmctld", "-D", "-c", "-f", self.conf], "ctld.out"),
                         (["slurmd", "-D", "-N", "localhost", "-f", self.conf], "slurmd.out")):
            out = open(os.path.join(self.tmp, "log", log), "w")
            self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))
        deadline = time.time() + 60
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            if p.returncode == 0 and p.stdout.strip() == "idle":
                return True
            time.sleep(0.5)
        return False

    def logs(self):
        out = ""
        for name in ("ctld.out", "slurmd.out", "slurmctld.log", "slurmd.log"):
            path = os.path.join(self.tmp, "log", name)
            if os.path.exists(path):
                out += f"--- {name}\n" + "".join(open(path).readlines()[-15:])
        return out

    def stop(self):
        subprocess.run(["scancel", "--user=root"], capture_output=True, env=self.env, timeout=30)
        steps = descendants([p.pid for p in self.procs])
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for pid in steps:  # job steps of ours still running (none normally)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_array(slurm, script_text, work, name, env):
    """sbatch --wait the script (4 tasks, 1 CPU each: two at a time); returns its exit code."""
    script = os.path.join(work, name + ".sbatch")
    with open(script, "w") as f:
        f.write(script_text)
    p = subprocess.run(["sbatch", "--wait", "--cpus-per-task=1", "--output", os.path.join(work, name + "-%a.out"),
                        script], capture_output=True, text=True, env=dict(slurm.env, **env), cwd=work, timeout=600)
    print(f"sbatch {name}: rc {p.returncode}: {p.stdout.strip()} {p.stderr.strip()}", flush=True)
    for i in range(4):
        path = os.path.join(work, f"{name}-{i}.out")
        if os.path.exists(path):
            print(f"  task {i}: " + " | ".join(open(path).read().strip().splitlines()[-2:]), flush=True)
    return p.returncode


def check_logs(out, names):
    logs = sorted(os.listdir(os.path.join(out, "logs")))
    if logs != [f"shard-{i}-of-4.jsonl" for i in range(4)]:
        fail(f"logs: {logs}")
        return
    seen = []
    for log in logs:
        lines = read_log(os.path.join(out, "logs", log))
        seen += [r["image"] for r in lines if "image" in r and r["status"] == "done"]
        if "summary" not in lines[-1] or lines[-1]["summary"]["failed"] != 0:
            fail(f"{log}: last line {lines[-1]}")
    if sorted(seen) != sorted(names):
        fail(f"logs list {sorted(seen)}, want each of {names} once")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--doc", default=os.path.join(os.path.dirname(__file__), "..", "..", "docs", "cluster.md"))
    ap.add_argument("--command", choices=("everything", "annotate"), default="everything")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("slurmd must run as root to start jobs (run as root, e.g. in the CI container)")
    missing = [t for t in ("slurmctld", "slurmd", "sbatch", "sinfo", "scancel") if not shutil.which(t)]
    if missing:
        skip(f"{', '.join(missing)} not found (Debian slurm-wlm; scripts/install_deps.sh installs it)")
    sam = os.path.abspath(os.path.join(args.bin, "sam"))
    if args.command == "annotate":
        annotate = subprocess.run([sam, "annotate", "--help"], capture_output=True, text=True)
        if annotate.returncode != 0 or "--shard" not in annotate.stdout:
            skip("this sam has no `annotate --shard`")
    work = tempfile.mkdtemp(prefix="sam_slurm_test_")
    os.chmod(work, 0o755)
    slurm = Slurm(os.path.join(work, "slurm"))
    try:
        if not slurm.start():
            print(slurm.logs())
            skip("slurmctld/slurmd did not start on localhost (see the logs above)")
        model = tiny_model(args.bin, args.data, work)
        names = make_images(args.data, os.path.join(work, "images"), 8)
        manifest = os.path.join(work, "images.txt")
        with open(manifest, "w") as f:
            f.write("# the test's images\n" + "".join(f"images/{n}\n" for n in names))

        if args.command == "annotate":
            check_annotate(slurm, args, sam, model, work, names)
        else:
            check_everything(slurm, args, sam, model, work, names, manifest)
    finally:
        slurm.stop()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("the Slurm array run equals the single-process run")
    return 0


def check_everything(slurm, args, sam, model, work, names, manifest):
    """The doc's everything script (4 tasks, one folder) against one process; then submitted again."""
    single = os.path.join(work, "single")  # one process, all images: the reference
    p = subprocess.run([sam, "everything", "-m", model, "--input", os.path.join(work, "images"), "--output",
                        single, "--threads", "1"] + FAST, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"single run: rc {p.returncode}: {p.stderr}")
    # The doc's script as an array of 4 tasks, into one folder.
    out = os.path.join(work, "array")
    env = {"SAM": sam, "MODEL": model, "IMAGES": manifest, "OUT": out, "SAM_ARGS": " ".join(FAST)}
    rc = run_array(slurm, sbatch_script(args.doc, "everything"), work, "everything", env)
    if rc != 0:
        fail(f"everything array: sbatch --wait rc {rc}")
        print(slurm.logs())
        return
    if same_trees(single, out):
        fail(f"everything array != single run: {same_trees(single, out)}")
    else:
        print(f"everything: the 4-task array equals the single run ({len(names)} images)", flush=True)
        check_logs(out, [f"images/{n}" for n in names])
    # Submitted again (a requeue): everything is skipped, nothing changes.
    rc = run_array(slurm, sbatch_script(args.doc, "everything"), work, "everything-again", env)
    skipped = sum(r.get("status") == "skipped" for i in range(4)
                  for r in read_log(os.path.join(out, "logs", f"shard-{i}-of-4.jsonl")))
    if rc != 0 or skipped != len(names) or same_trees(single, out):
        fail(f"array again: rc {rc}, {skipped} skipped, {same_trees(single, out)}")


def check_annotate(slurm, args, sam, model, work, names):
    """YOLO boxes (one or two per image, one image without) through the doc's annotate script, YOLO-seg and
    COCO output, then the doc's merge run (one process, all images skipped, instances.json assembled)."""
    boxes = os.path.join(work, "boxes")
    os.makedirs(boxes)
    for i, n in enumerate(names):
        stem = os.path.splitext(n)[0]
        if i == 3:
            continue  # no detections: no label file
        lines = ["0 0.5 0.5 0.4 0.3"] + (["1 0.3 0.6 0.2 0.25"] if i % 2 else [])
        with open(os.path.join(boxes, stem + ".txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    single = os.path.join(work, "annotate_single")
    images = os.path.join(work, "images")
    formats = ["--format", "yolo-seg,coco"]
    p = subprocess.run([sam, "annotate", "-m", model, "--images", images, "--boxes", boxes, "-o", single,
                        "--threads", "1"] + formats, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"annotate single run: rc {p.returncode}: {p.stderr}")
        return
    out = os.path.join(work, "annotate_array")
    env = {"SAM": sam, "MODEL": model, "IMAGES": images, "BOXES": boxes, "OUT": out, "SAM_ARGS": " ".join(formats)}
    rc = run_array(slurm, sbatch_script(args.doc, "annotate"), work, "annotate", env)
    # The merge step of docs/cluster.md: one run over all images (all skipped) writes instances.json whole.
    p = subprocess.run([sam, "annotate", "-m", model, "--images", images, "--boxes", boxes, "-o", out,
                        "--threads", "1"] + formats, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"annotate merge run: rc {p.returncode}: {p.stderr}")
    if rc != 0:
        fail(f"annotate array: sbatch --wait rc {rc}")
    elif same_trees(single, out):
        fail(f"annotate array != single run: {same_trees(single, out)}")
    else:
        labels = [f for f in tree(out) if f.endswith(".txt")]
        if len(labels) != len(names) - 1:  # no file for the image without boxes
            fail(f"annotate: label files {labels}")
        print(f"annotate: the 4-task array equals the single run ({tree(out)})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
