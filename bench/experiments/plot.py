"""Figures and tables of the seed's experiments from runner.py's CSV (docs/EXPERIMENTS.md).

    plot.py --runs runs.csv --probe probe.samples --log testbed.log --figures DIR --tables FILE

For every point: the Stop-and-Wait (seed) and native delays averaged over their runs, the
model of model.py with the RTT and timeout the sender meets on this testbed, and the
deviation. The model's RTT for (n, MSS) is the time per segment of the lossless
Stop-and-Wait runs with that n and MSS; its timeout is RFC 6298's for that RTT with the
RTT variation of the testbed's echo probe (model.steady_timeout).
"""

import argparse
import csv
import os
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import model  # noqa: E402

SWEEPS = [
    # name, x key, fixed values, x label, title
    ("receivers", "n", {"mss": 500, "p": 0.05}, "receivers n", "Delay against receivers (MSS 500, p = 0.05)"),
    ("mss", "mss", {"n": 3, "p": 0.05}, "MSS (bytes)", "Delay against MSS (n = 3, p = 0.05)"),
    ("loss", "p", {"n": 3, "mss": 500}, "loss probability p", "Delay against loss (n = 3, MSS 500)"),
]


def load_runs(path: str) -> list[dict]:
    rows = []
    with open(path) as f:
        for row in csv.DictReader(f):
            row["n"], row["mss"], row["p"] = int(row["n"]), int(row["mss"]), round(float(row["p"]), 4)
            rows.append(row)
    return rows


def seconds_of(rows: list[dict]) -> list[float]:
    return [float(r["seconds"]) for r in rows if r["ok"] == "1" and r["seconds"]]


def mean_of(rows: list[dict], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r["ok"] == "1" and r.get(key) not in (None, "")]
    return statistics.fmean(values) if values else None


class Analysis:
    def __init__(self, runs: list[dict], probe: list[float], log: str) -> None:
        self.runs = runs
        self.file_bytes = int(runs[0]["bytes"])
        self.echo_rtt = statistics.fmean(probe)
        self.echo_sd = statistics.stdev(probe) if len(probe) > 1 else 0.0
        self.variation = model.rtt_variation(probe)
        self.log = log

    def select(self, series: str, n: int, mss: int, p: float) -> list[dict]:
        return [r for r in self.runs if r["series"] == series and r["n"] == n and r["mss"] == mss and r["p"] == p]

    def round_time(self, n: int, mss: int) -> tuple[float, str]:
        """Seconds per segment of the lossless Stop-and-Wait runs, else the echo RTT."""
        lossless = [float(r["seconds"]) / int(r["segments"]) for r in self.select("saw", n, mss, 0.0)
                    if r["ok"] == "1" and r["seconds"]]
        if lossless:
            return statistics.fmean(lossless), "lossless runs"
        return self.echo_rtt, "echo probe"

    def point(self, n: int, mss: int, p: float) -> dict:
        rtt, source = self.round_time(n, mss)
        timeout = model.steady_timeout(rtt, self.variation)
        saw = self.select("saw", n, mss, p)
        native = self.select("native", n, mss, p)
        result = {
            "n": n, "mss": mss, "p": p, "rtt": rtt, "rtt_source": source, "timeout": timeout,
            "model": model.stop_and_wait_delay(self.file_bytes, mss, n, p, rtt, timeout),
            "textbook": model.textbook_delay(self.file_bytes, mss, n, p, rtt, timeout),
            "saw": seconds_of(saw), "native": seconds_of(native),
            "saw_failed": sum(1 for r in saw if r["ok"] != "1"),
            "native_failed": sum(1 for r in native if r["ok"] != "1"),
            "timeouts": mean_of(saw, "timeouts"), "discarded": mean_of(saw, "discarded"),
            "srtt": mean_of(saw, "srtt_ms"),
        }
        return result


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def sweep_points(analysis: Analysis, key: str, fixed: dict) -> list[dict]:
    xs = sorted({r[key] for r in analysis.runs if r["series"] in ("saw", "native") and r["p"] > 0
                 and all(r[k] == v for k, v in fixed.items() if k != key)})
    points = []
    for x in xs:
        values = dict(fixed, **{key: x})
        point = analysis.point(values["n"], values["mss"], values["p"])
        if point["saw"] or point["native"]:
            points.append(point)
    return points


def table(points: list[dict], key: str) -> list[str]:
    header = {"n": "n", "mss": "MSS", "p": "p"}[key]
    lines = [
        f"| {header} | Stop-and-Wait s (runs) | model s | deviation | textbook s | RTT ms | timeout ms "
        "| timeouts / run | discarded / run | native s (runs) | speed-up |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pt in points:
        saw = statistics.fmean(pt["saw"]) if pt["saw"] else None
        native = statistics.fmean(pt["native"]) if pt["native"] else None
        deviation = f"{(saw - pt['model']) / pt['model'] * 100:+.1f} %" if saw else "–"
        failed = ""
        if pt["saw_failed"] or pt["native_failed"]:
            failed = f" ({pt['saw_failed']} + {pt['native_failed']} failed)"
        lines.append(
            f"| {pt[key]:g} | {spread(pt['saw'])} ({len(pt['saw'])}){failed} | {pt['model']:.2f} | {deviation} "
            f"| {pt['textbook']:.2f} | {pt['rtt'] * 1000:.2f} | {pt['timeout'] * 1000:.2f} | {fmt(pt['timeouts'], 1)} "
            f"| {fmt(pt['discarded'], 1)} | {spread(pt['native'])} ({len(pt['native'])}) "
            f"| {fmt(saw / native if saw and native else None, 1)}× |")
    return lines


def figure(points: list[dict], key: str, xlabel: str, title: str, path: str, calibration: list[dict]) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 7.5), sharex=True, height_ratios=[3, 2])
    xs = [pt[key] for pt in points]
    for pt in points:
        top.scatter([pt[key]] * len(pt["saw"]), pt["saw"], s=10, color="tab:blue", alpha=0.35, linewidths=0)
        bottom.scatter([pt[key]] * len(pt["native"]), pt["native"], s=10, color="tab:orange", alpha=0.35, linewidths=0)
    saw_mean = [statistics.fmean(pt["saw"]) if pt["saw"] else float("nan") for pt in points]
    native_mean = [statistics.fmean(pt["native"]) if pt["native"] else float("nan") for pt in points]
    top.plot(xs, [pt["model"] for pt in points], "-", color="black", lw=1.5,
             label="model: E[max of n geometric] + RFC 6298 backoff, 1 s initial timeout")
    top.plot(xs, [pt["textbook"] for pt in points], ":", color="gray", lw=1.5,
             label="textbook: N·(RTT + (E[max K] − 1)·timeout)")
    top.plot(xs, saw_mean, "o-", color="tab:blue", label="Stop-and-Wait (seed command lines), mean of runs")
    top.plot(xs, native_mean, "s-", color="tab:orange", label="native (p2mpsend push), mean of runs")
    if calibration:
        top.plot([c[key] for c in calibration], [c["delay"] for c in calibration], "x", color="tab:green",
                 label="Stop-and-Wait without loss (the model's RTT)")
    top.set_ylabel("delay (s)")
    top.set_ylim(bottom=0)
    top.set_title(title)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=7.5, loc="best")
    bottom.plot(xs, native_mean, "s-", color="tab:orange", label="native, its own scale")
    bottom.set_ylabel("native delay (s)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel(xlabel)
    if key in ("n", "mss"):
        bottom.set_xticks(xs)
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=7.5, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def testbed_lines(log: str) -> list[str]:
    keep = re.compile(r"^(testbed: {3}link|probe h|forwarder |tbf drops|runner: )")
    return [line.rstrip() for line in log.splitlines() if keep.match(line)]


def main() -> int:
    parser = argparse.ArgumentParser()
    for option in ("--runs", "--probe", "--log", "--figures", "--tables"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    runs = load_runs(args.runs)
    if not runs:
        sys.exit("plot.py: no runs in " + args.runs)
    with open(args.probe) as f:
        probe = [float(line.split()[0]) / 1e6 for line in f if line.strip()]
    with open(args.log) as f:
        log = f.read()
    analysis = Analysis(runs, probe, log)
    os.makedirs(args.figures, exist_ok=True)
    out = [
        "# Results of `make experiments`",
        "",
        f"File {analysis.file_bytes} bytes. Echo RTT at the start: {analysis.echo_rtt * 1000:.2f} ms "
        f"(sd {analysis.echo_sd * 1000:.2f} ms, {len(probe)} samples); RFC 6298 RTTVAR of those samples "
        f"{analysis.variation * 1000:.3f} ms. Delay = p2mpsend's own transfer time (first send to last ACK).",
        "",
        "Testbed log:",
        "",
        "```",
        *testbed_lines(log),
        "```",
        "",
    ]
    failures = [r for r in runs if r["ok"] != "1"]
    for name, key, fixed, xlabel, title in SWEEPS:
        points = sweep_points(analysis, key, fixed)
        if not points:
            continue
        calibration = []
        if key == "p":
            rtt, source = analysis.round_time(fixed["n"], fixed["mss"])
            if source == "lossless runs":
                calibration = [{"p": 0.0, "delay": rtt * model.segments(analysis.file_bytes, fixed["mss"])}]
        else:
            for pt in points:
                if pt["rtt_source"] == "lossless runs":
                    calibration.append({key: pt[key], "delay": pt["rtt"] * model.segments(analysis.file_bytes, pt["mss"])})
        path = os.path.join(args.figures, f"delay-vs-{name}.png")
        figure(points, key, xlabel, title, path, calibration)
        image = os.path.relpath(path, os.path.dirname(os.path.abspath(args.tables)))
        out += [f"## {title}", "", f"![{title}]({image})", "", *table(points, key), ""]
    if failures:
        out += ["## Failed runs", ""]
        out += [f"- {r['series']} n={r['n']} MSS {r['mss']} p={r['p']} run {r['rep']}: {r['note']}" for r in failures]
        out.append("")
    with open(args.tables, "w") as f:
        f.write("\n".join(out))
    print(f"plot.py: {len(runs)} runs, {len(failures)} failed; figures in {args.figures}, tables in {args.tables}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
