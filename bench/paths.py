#!/usr/bin/env python3
"""Turns bench/paths.sh's rows.tsv into the per-receiver goodput table of every path.

usage: paths.py ROWS_TSV OUT_MD CONTEXT_LINE

Each row: path, receivers, tool, status, wall seconds, bytes per receiver, note. Repeated
runs of one (path, receivers, tool) are reduced to the median run; a failed run is shown
instead of the median, so a good run never hides a failure. A `partial` run (TCP stopped at
the time limit) counts the bytes that arrived: its rate is a lower bound, marked with ≥.
"""
import datetime
import sys

MB = 1e6


def main():
    rows_path, out_md, context = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = {}
    paths, tools = [], []
    with open(rows_path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 7:
                continue
            path, n, tool, status, wall, size, note = fields[:7]
            key = (path, int(n), tool)
            if path not in paths:
                paths.append(path)
            if tool not in tools:
                tools.append(tool)
            rate = float(size) / float(wall) / MB if wall not in ("", "-") and float(wall) > 0 else None
            runs.setdefault(key, []).append(dict(status=status, wall=wall, rate=rate, note=note))

    def cell(key):
        group = runs.get(key)
        if not group:
            return "", None
        failed = [r for r in group if r["status"] not in ("ok", "partial")]
        if failed:
            status = failed[0]["status"]
            return ("n/a" if status.startswith("not available") else "FAILED"), failed[0]
        ordered = sorted(group, key=lambda r: r["rate"])
        median = ordered[len(ordered) // 2]
        text = f"{median['rate']:.2f}"
        if median["status"] == "partial":
            text = "≥ " + text
        return text, median

    counts = sorted({k[1] for k in runs})
    header = ["path", "rcv"] + tools
    table, notes = [], []
    for path in paths:
        for n in counts:
            line = [path, str(n)]
            for tool in tools:
                text, run = cell((path, n, tool))
                line.append(text)
                group = runs.get((path, n, tool), [])
                if run is not None and (run["status"] != "ok" or len(group) > 1):
                    rates = ", ".join("–" if r["rate"] is None else f"{r['rate']:.2f}" for r in group)
                    detail = run["status"] if run["status"] not in ("ok",) else "median"
                    notes.append(f"{path} x{n} {tool}: {detail} of {len(group)} runs (MB/s per receiver: {rates})"
                                 + (f"; {run['note']}" if run["note"] else ""))
            table.append(line)

    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(widths[i]) if i < 1 else h.rjust(widths[i]) for i, h in enumerate(header)))
    for r in table:
        print("  ".join(c.ljust(widths[i]) if i < 1 else c.rjust(widths[i]) for i, c in enumerate(r)))
    for note in notes:
        print("  - " + note)
    print("  " + context)

    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    with open(out_md, "w") as f:
        f.write(f"# p2mp over emulated paths, {stamp}\n\n{context}.\n\n")
        f.write("Per-receiver goodput, MB/s (file bytes / wall seconds, MB = 10^6 bytes), median run:\n\n")
        f.write("| " + " | ".join(header) + " |\n")
        f.write("|---|--:|" + "|".join(["--:"] * len(tools)) + "|\n")
        for r in table:
            f.write("| " + " | ".join(r) + " |\n")
        if notes:
            f.write("\nRuns:\n\n" + "".join(f"- {n}\n" for n in notes))
    print(f"\n  written to {out_md}")


if __name__ == "__main__":
    main()
