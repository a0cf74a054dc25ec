"""Runs the seed's three experiments on a testbed built by bench/testbed/testbed.sh.

Started by bench/experiments/run.sh inside `testbed.sh ... -- runner.py`, so the TB_*
variables name the sender's and the receivers' namespaces. Every transfer is one job
with its own UDP port and its own receiver processes; up to PARALLEL jobs run at once
(Stop-and-Wait is bound by round trips, not by the link or the CPU). Writes one CSV row
per transfer (columns: FIELDS) and prints a line per finished job.

Settings come from the environment (run.sh documents them): EXP_BIN, EXP_FILE_BYTES,
EXP_REPEAT, EXP_CALIBRATION_REPEAT, EXP_PARALLEL, EXP_POINTS (full or quick), EXP_SERIES,
EXP_LIMIT (seconds for all transfers; then running ones are stopped, the rest not run),
EXP_CSV, EXP_WORK, EXP_PROBE (where the testbed's echo samples are copied).
"""

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import model

FIELDS = [
    "series", "n", "mss", "p", "rep", "ok", "seconds", "wall_seconds", "bytes", "segments",
    "timeouts", "retransmissions", "discarded", "srtt_ms", "started", "running", "note",
]
SEED_PORT_BASE = 20000


@dataclass(frozen=True)
class Job:
    series: str  # "saw" (seed command lines) or "native" (p2mpsend push, p2mpd --loss)
    n: int
    mss: int
    p: float
    rep: int
    port: int


def points(kind: str) -> list[tuple[int, int, float]]:
    """(n, MSS, p) of the three sweeps; the point n=3, MSS 500, p=0.05 they share runs once."""
    if kind == "quick":
        ns, msss, ps = [1, 3, 5], [100, 500, 1000], [0.01, 0.05, 0.10]
    else:
        ns, msss, ps = [1, 2, 3, 4, 5], list(range(100, 1001, 100)), [k / 100 for k in range(1, 11)]
    chosen = [(n, 500, 0.05) for n in ns] + [(3, m, 0.05) for m in msss] + [(3, 500, p) for p in ps]
    return list(dict.fromkeys(chosen))


def calibration_points(kind: str) -> list[tuple[int, int, float]]:
    """Lossless Stop-and-Wait runs: their time per segment is the model's RTT input."""
    base = points(kind)
    return list(dict.fromkeys((n, m, 0.0) for n, m, _ in base))


class Testbed:
    """The namespaces and addresses testbed.sh exported."""

    def __init__(self) -> None:
        self.sender = os.environ["TB_NS_SENDER"]
        self.receivers = os.environ["TB_NS_RECEIVERS"].split()
        self.addresses = os.environ["TB_ADDR_RECEIVERS"].split()

    @staticmethod
    def command(namespace: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *argv]


def wait_bound(testbed: Testbed, namespace: str, port: int, process: subprocess.Popen, limit: float = 10.0) -> bool:
    """True once something in `namespace` listens on UDP `port` (a condition, bounded)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        out = subprocess.run(testbed.command(namespace, "ss", "-Hlun", f"sport = :{port}"),
                             capture_output=True, text=True).stdout
        if out.strip():
            return True
        time.sleep(0.02)
    return False


def digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def stop(processes: list[subprocess.Popen], limit: float = 10.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + limit
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Runner:
    def __init__(self) -> None:
        self.bin = os.environ["EXP_BIN"]
        self.file_bytes = int(os.environ["EXP_FILE_BYTES"])
        self.work = os.environ["EXP_WORK"]
        self.testbed = Testbed()
        self.input = os.path.join(self.work, "input.bin")
        with open(self.input, "wb") as f:
            f.write(os.urandom(self.file_bytes))
        self.input_digest = digest(self.input)
        self.running = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.live: set[subprocess.Popen] = set()

    def spawn(self, argv: list[str], log: str) -> subprocess.Popen:
        process = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        with self.lock:
            self.live.add(process)
        return process

    def reap(self, processes: list[subprocess.Popen]) -> None:
        stop(processes)
        with self.lock:
            self.live.difference_update(processes)

    def run(self, job: Job) -> dict:
        with self.lock:
            self.running += 1
            running = self.running
        directory = os.path.join(self.work, f"{job.series}-n{job.n}-m{job.mss}-p{job.p:.2f}-r{job.rep}")
        os.makedirs(directory, exist_ok=True)
        row = {"series": job.series, "n": job.n, "mss": job.mss, "p": job.p, "rep": job.rep,
               "bytes": self.file_bytes, "segments": model.segments(self.file_bytes, job.mss),
               "started": f"{time.time():.3f}", "running": running, "ok": 0, "note": ""}
        try:
            if self.stopping.is_set():
                row["note"] = "not run: stopped (time limit or signal)"
            elif job.series == "saw":
                self.seed_transfer(job, directory, row)
            else:
                self.native_push(job, directory, row)
        except Exception as error:  # a job's failure is recorded in its row, never hidden
            row["note"] = f"error: {error}"
        finally:
            with self.lock:
                self.running -= 1
        subprocess.run(["rm", "-rf", directory])
        return row

    def seed_transfer(self, job: Job, directory: str, row: dict) -> None:
        """`p2mpd PORT FILE P` in each receiver's namespace, `p2mpsend HOST... PORT FILE MSS`."""
        receivers = []
        for i in range(job.n):
            out = os.path.join(directory, f"h{i + 1}.bin")
            argv = self.testbed.command(self.testbed.receivers[i], f"{self.bin}/p2mpd", str(job.port), out, f"{job.p:g}")
            receivers.append(self.spawn(argv, os.path.join(directory, f"h{i + 1}.log")))
        try:
            for i, process in enumerate(receivers):
                if not wait_bound(self.testbed, self.testbed.receivers[i], job.port, process):
                    row["note"] = f"p2mpd on h{i + 1} did not start"
                    return
            hosts = self.testbed.addresses[: job.n]
            limit = 3 * model.stop_and_wait_delay(self.file_bytes, job.mss, job.n, job.p, 0.03, 0.04) + 60
            argv = self.testbed.command(self.testbed.sender, "timeout", f"{limit:.0f}", f"{self.bin}/p2mpsend",
                                        *hosts, str(job.port), self.input, str(job.mss))
            start = time.monotonic()
            sender = subprocess.run(argv, capture_output=True, text=True)
            row["wall_seconds"] = f"{time.monotonic() - start:.3f}"
            for process in receivers:  # each exits 2 s (its linger) after the last datagram
                process.wait(timeout=30)
        finally:
            self.reap(receivers)
        output = sender.stdout
        timeout_lines = output.count("Timeout, sequence number = ")
        summary = re.search(r"Sent (\d+) bytes to (\d+) receivers? in ([0-9.]+) s", output)
        per_receiver = re.findall(r"retransmissions (\d+) .*?timeouts (\d+)(?:, srtt ([0-9.]+) ms)?", output)
        discarded = 0
        for i in range(job.n):
            with open(os.path.join(directory, f"h{i + 1}.log")) as f:
                found = re.search(r"\((\d+) packets discarded\)", f.read())
            discarded += int(found.group(1)) if found else 0
        srtts = [float(s) for _, _, s in per_receiver if s]
        row.update(
            seconds=summary.group(3) if summary else "",
            timeouts=sum(int(t) for _, t, _ in per_receiver),
            retransmissions=sum(int(r) for r, _, _ in per_receiver),
            discarded=discarded,
            srtt_ms=f"{sum(srtts) / len(srtts):.3f}" if srtts else "")
        if row["timeouts"] != timeout_lines:
            row["note"] = f"summary says {row['timeouts']} timeouts, {timeout_lines} Timeout lines"
        copies = [digest(os.path.join(directory, f"h{i + 1}.bin")) if os.path.exists(os.path.join(directory, f"h{i + 1}.bin")) else ""
                  for i in range(job.n)]
        bad = [f"h{i + 1}" for i, d in enumerate(copies) if d != self.input_digest]
        if sender.returncode != 0 or bad or not summary:
            row["note"] = (f"p2mpsend exit {sender.returncode}; copies differ: {' '.join(bad)}; "
                           + " ".join(sender.stderr.split()[-20:])).strip()
            return
        row["ok"] = 1

    def native_push(self, job: Job, directory: str, row: dict) -> None:
        """`p2mpd --listen ADDR:PORT --spool DIR --loss P` per receiver, one `p2mpsend push`."""
        daemons = []
        for i in range(job.n):
            spool = os.path.join(directory, f"spool-h{i + 1}")
            os.makedirs(spool)
            argv = self.testbed.command(
                self.testbed.receivers[i], f"{self.bin}/p2mpd", "--listen", f"{self.testbed.addresses[i]}:{job.port}",
                "--spool", spool, "--loss", f"{job.p:g}", "--log-level", "warning")
            daemons.append(self.spawn(argv, os.path.join(directory, f"h{i + 1}.log")))
        try:
            for i, process in enumerate(daemons):
                if not wait_bound(self.testbed, self.testbed.receivers[i], job.port, process):
                    row["note"] = f"p2mpd daemon on h{i + 1} did not start"
                    return
            targets = [f"{a}:{job.port}" for a in self.testbed.addresses[: job.n]]
            name = os.path.basename(directory)
            argv = self.testbed.command(self.testbed.sender, "timeout", "300", f"{self.bin}/p2mpsend", "push",
                                        self.input, *targets, "--name", name, "--segment-size", str(job.mss),
                                        "--quiet", "--json")
            environment = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.work, "cache"))
            start = time.monotonic()
            sender = subprocess.run(argv, capture_output=True, text=True, env=environment)
            row["wall_seconds"] = f"{time.monotonic() - start:.3f}"
        finally:
            self.reap(daemons)
        try:
            report = json.loads(sender.stdout)
        except ValueError:
            row["note"] = f"p2mpsend push exit {sender.returncode}: " + " ".join(sender.stderr.split()[-20:])
            return
        receivers = report.get("receivers", [])
        row.update(seconds=f"{report.get('seconds', 0):.3f}",
                   timeouts=sum(r.get("timeouts", 0) for r in receivers),
                   retransmissions=sum(r.get("retransmissions", 0) for r in receivers))
        bad = []
        for i in range(job.n):
            copy = os.path.join(directory, f"spool-h{i + 1}", name)
            if not os.path.exists(copy) or digest(copy) != self.input_digest:
                bad.append(f"h{i + 1}")
        if sender.returncode != 0 or bad or not report.get("ok"):
            row["note"] = f"p2mpsend push exit {sender.returncode}; copies differ: {' '.join(bad)}"
            return
        row["ok"] = 1

    def terminate(self) -> None:
        self.stopping.set()
        with self.lock:
            live = list(self.live)
        stop(live, limit=5)


def main() -> int:
    kind = os.environ.get("EXP_POINTS", "full")
    repeat = int(os.environ.get("EXP_REPEAT", "5"))
    calibration_repeat = int(os.environ.get("EXP_CALIBRATION_REPEAT", "2"))
    parallel = int(os.environ.get("EXP_PARALLEL", "12"))
    series = os.environ.get("EXP_SERIES", "saw native").split()
    file_bytes = int(os.environ["EXP_FILE_BYTES"])
    configurations = []
    if "saw" in series:
        configurations += [("saw", c, calibration_repeat) for c in calibration_points(kind)]
        configurations += [("saw", c, repeat) for c in points(kind)]
    if "native" in series:
        configurations += [("native", c, repeat) for c in points(kind)]
    jobs = []
    for name, (n, mss, p), reps in configurations:
        for rep in range(1, reps + 1):
            jobs.append(Job(name, n, mss, p, rep, SEED_PORT_BASE + len(jobs)))

    def estimate(job: Job) -> float:  # longest first, so the pool ends together
        seconds = model.stop_and_wait_delay(file_bytes, job.mss, job.n, job.p, 0.021, 0.022)
        return seconds if job.series == "saw" else seconds / 8

    jobs.sort(key=estimate, reverse=True)
    # The echo samples testbed.sh took before starting us: the model's timeout input.
    with open(os.environ["EXP_PROBE"], "w") as probe:
        for name in sorted(os.listdir(os.environ["TB_WORK"])):
            if name.startswith("probe-") and name.endswith(".samples"):
                with open(os.path.join(os.environ["TB_WORK"], name)) as samples:
                    probe.write(samples.read())
    runner = Runner()
    signal.signal(signal.SIGTERM, lambda *_: (runner.terminate(), sys.exit(143)))
    limit = float(os.environ.get("EXP_LIMIT", "1500"))
    deadline = threading.Timer(limit, runner.terminate)
    deadline.daemon = True
    deadline.start()
    started = time.monotonic()
    with open(os.environ["EXP_CSV"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        print(f"runner: {len(jobs)} transfers of {file_bytes} bytes, {parallel} at a time", flush=True)
        failures = 0
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(runner.run, job) for job in jobs]
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    row = future.result()
                    writer.writerow(row)
                    f.flush()
                    failures += 0 if row["ok"] else 1
                    print(f"[{done}/{len(jobs)} {time.monotonic() - started:6.0f} s] {row['series']:6} n={row['n']} "
                          f"mss={row['mss']:4} p={row['p']:.2f} rep {row['rep']}: "
                          f"{row.get('seconds') or '-'} s{'' if row['ok'] else '  FAILED ' + row['note']}", flush=True)
            except KeyboardInterrupt:
                runner.terminate()
                raise
    print(f"runner: done in {time.monotonic() - started:.0f} s, {failures} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
