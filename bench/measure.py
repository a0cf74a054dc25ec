#!/usr/bin/env python3
"""Turns bench/run.sh's rows.tsv plus GNU time files into the results table.

usage: measure.py ROWS_TSV OUT_MD CONTEXT_LINE

Each row: tool, receivers, size_bytes, status, start, end (epoch seconds), sender time
files, receiver time files (space-separated), sender RSS aggregation (max|sum), note.
Repeated runs of one tool and receiver count are reduced to the median run.
A time file is GNU time's -o output with -f '%e %U %S %M'; its last line holds the numbers.
"""
import datetime
import sys

MB = 1e6
MIB = 1024 * 1024


def read_time(path):
    """(user+sys seconds, max RSS KiB) from a GNU time -o file, or None."""
    try:
        with open(path) as f:
            lines = [l.split() for l in f if l.strip()]
    except OSError:
        return None
    for fields in reversed(lines):
        if len(fields) == 4:
            try:
                _, user, sys_, rss = (float(x) for x in fields)
                return user + sys_, rss
            except ValueError:
                pass
    return None


def usage(paths, rss_agg):
    times = [read_time(p) for p in paths.split()] if paths not in ("", "-") else []
    if not times or any(t is None for t in times):
        return None, None
    cpu = sum(t[0] for t in times)
    rss = (sum if rss_agg == "sum" else max)(t[1] for t in times) / 1024  # MiB
    return cpu, rss


def median_runs(rows):
    """One row per (tool, receivers): the run with the median wall time, noted with every
    run's time. A failed run is shown instead, so a good run never hides a failure."""
    groups = {}
    for r in rows:
        groups.setdefault((r["tool"], r["n"]), []).append(r)
    picked = []
    for runs in groups.values():
        failed = [r for r in runs if r["wall"] is None or r["status"] != "ok"]
        pick = failed[0] if failed else sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
        if len(runs) > 1:
            walls = ", ".join("–" if r["wall"] is None else f"{r['wall']:.2f}" for r in runs)
            what = "first failure" if failed else "median"
            pick["note"] = f"{what} of {len(runs)} runs (wall s: {walls})" + ("; " + pick["note"] if pick["note"] else "")
        picked.append(pick)
    return picked


def main():
    rows_path, out_md, context = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = []
    with open(rows_path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 10:
                continue
            tool, n, size, status, start, end, sfiles, rfiles, agg, note = fields[:10]
            r = dict(tool=tool, n=int(n), size=int(size), status=status, note=note)
            if status.startswith("not available"):
                r["wall"] = None
            else:
                r["wall"] = float(end) - float(start)
                r["scpu"], r["srss"] = usage(sfiles, agg)
                r["rcpu"], _ = usage(rfiles, "sum")
                _, r["rrss"] = usage(rfiles, "max")
                r["good"] = r["size"] * r["n"] / r["wall"] / MB
                r["per"] = r["size"] / r["wall"] / MB
            rows.append(r)

    rows = median_runs(rows)

    def goodputs(tool):
        return {r["n"]: r["good"] for r in rows if r["tool"] == tool and r["status"] == "ok" and r["wall"]}

    uftp = goodputs("uftp")
    # Like for like: each p2mp native row against the uftp row with datagrams of about its size.
    peers = {"p2mp": goodputs("uftp-8800"), "p2mp-cold": goodputs("uftp-8800"), "p2mp-auth": goodputs("uftp-8800"),
             "p2mp-1400": uftp}
    # The cost of authentication and sealing: p2mp-auth's goodput as a share of p2mp's.
    plain, sealed = goodputs("p2mp"), goodputs("p2mp-auth")
    sealing = [f"p2mp-auth keeps {sealed[n] / plain[n]:.0%} of p2mp's goodput with {n} receiver{'s' if n > 1 else ''}"
               for n in sorted(plain) if n in sealed]

    def fmt(x, spec):
        return "–" if x is None else format(x, spec)

    header = ["tool", "rcv", "MiB", "status", "wall s", "goodput MB/s", "per-rcv MB/s",
              "sender CPU s", "rcv CPU s (sum)", "sender RSS MiB", "max rcv RSS MiB", "vs uftp",
              "vs uftp, like datagrams"]
    table = []
    for r in rows:
        if r["wall"] is None:
            table.append([r["tool"], str(r["n"]), fmt(r["size"] / MIB, ".0f"), r["status"]]
                         + ["–"] * 9)
            continue
        ok = r["status"] == "ok"
        ratio = r["good"] / uftp[r["n"]] if ok and r["n"] in uftp else None
        peer = peers.get(r["tool"], {})
        like = r["good"] / peer[r["n"]] if ok and r["n"] in peer else None
        table.append([r["tool"], str(r["n"]), fmt(r["size"] / MIB, ".0f"),
                      "ok" if ok else r["status"],
                      fmt(r["wall"], ".2f"), fmt(r["good"] if ok else None, ".1f"),
                      fmt(r["per"] if ok else None, ".1f"),
                      fmt(r.get("scpu"), ".2f"), fmt(r.get("rcpu"), ".2f"),
                      fmt(r.get("srss"), ".1f"), fmt(r.get("rrss"), ".1f"),
                      fmt(ratio, ".2f") + ("×" if ratio is not None else ""),
                      fmt(like, ".2f") + ("×" if like is not None else "")])

    # Terminal table: status may be long, so it goes last-but-notes in a separate list.
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h)
              for i, h in enumerate(header)]
    short = [i for i in range(len(header)) if i != 3]
    print()
    print("  ".join(header[i].rjust(widths[i]) if i > 2 else header[i].ljust(widths[i]) for i in short) + "  status")
    for row in table:
        print("  ".join(row[i].rjust(widths[i]) if i > 2 else row[i].ljust(widths[i]) for i in short) + "  " + row[3])
    notes = sealing + [f"{r['tool']} x{r['n']}: {r['note']}" for r in rows if r["note"]]
    for n in notes:
        print("  - " + n)
    print("  " + context)

    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    with open(out_md, "w") as f:
        f.write(f"# p2mp benchmark, {stamp}\n\n{context}.\n\n")
        f.write("| " + " | ".join(header) + " |\n")
        f.write("|" + "|".join(["---"] * 4 + ["--:"] * (len(header) - 4)) + "|\n")
        for row in table:
            f.write("| " + " | ".join(c.replace("|", "/") for c in row) + " |\n")
        f.write("\nGoodput = file bytes × receivers / wall seconds (MB = 10^6 bytes); per-rcv = file bytes / wall "
                "seconds. Wall = sender start until the sender (socat: every sender and receiver) exits. "
                "RSS = peak resident set (GNU time %M). See bench/README.md for the caveats: shared 2-core machine, "
                "loopback only, input read from the page cache.\n")
        if notes:
            f.write("\nNotes:\n\n" + "".join(f"- {n}\n" for n in notes))
    print(f"\n  written to {out_md}")


if __name__ == "__main__":
    main()
