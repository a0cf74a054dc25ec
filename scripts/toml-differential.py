#!/usr/bin/env python3
"""Differential check of p2mp's TOML parser against Python's tomllib.

    scripts/toml-differential.py [--count N] [--seed S]

Generates N documents (default 4000) from a grammar of TOML 1.0 with seeded random choices:
valid ones of every construct (dotted keys, headers, arrays of tables, inline tables, the
four string forms with escapes, integers in four bases, floats, dates and times), and as
many again mutated byte by byte into mostly invalid ones. Both parsers read every document;
they must agree on accepting it and, when both accept, on every value. The only expected
difference is an integer beyond 64 bits, which tomllib takes and TOML (and p2mp) refuse.
Prints the seed, the counts and the first disagreements; exits 1 on any disagreement.
Bounded: N documents, one parser process, about 20 s.
"""
import argparse
import datetime
import json
import math
import os
import pathlib
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build" / "fuzz"
TOOL = BUILD / "toml-dump"


def build_tool():
    sources = sorted((ROOT / "Sources" / "P2MPConfiguration").glob("*.swift"))
    main = ROOT / "Tests" / "Fuzz" / "Tools" / "TOMLDump" / "main.swift"
    newest = max(path.stat().st_mtime for path in sources + [main])
    if TOOL.exists() and TOOL.stat().st_mtime > newest:
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    print(f"== building {TOOL.relative_to(ROOT)}", flush=True)
    subprocess.run(
        [os.environ.get("SWIFTC", "swiftc"), "-O", "-swift-version", "6", "-warnings-as-errors",
         "-module-name", "toml_dump", *map(str, sources), str(main), "-o", str(TOOL)],
        check=True)


# MARK: Generation


class Generator:
    BARE = "abcxyzABZ019_-"

    def __init__(self, rng):
        self.rng = rng

    def key_part(self):
        r = self.rng.random()
        if r < 0.7:
            return "".join(self.rng.choice(self.BARE) for _ in range(self.rng.randint(1, 4)))
        if r < 0.85:
            return '"' + self.basic_content(4) + '"'
        return "'" + "".join(self.rng.choice("ab .é#=[") for _ in range(self.rng.randint(0, 4))) + "'"

    def key(self, parts=None):
        count = parts or self.rng.choice([1, 1, 1, 2, 3])
        sep = self.rng.choice([".", " . ", "."])
        return sep.join(self.key_part() for _ in range(count))

    def basic_content(self, limit):
        pieces = []
        for _ in range(self.rng.randint(0, limit)):
            r = self.rng.random()
            if r < 0.6:
                pieces.append(self.rng.choice("abc XYZ/é€😀\t#='["))
            elif r < 0.8:
                pieces.append(self.rng.choice(["\\n", "\\t", "\\\\", '\\"', "\\b", "\\f", "\\r"]))
            else:
                code = self.rng.choice([0x41, 0xE9, 0x20AC, 0x1F600, 0x0, 0x7F, 0x10FFFF])
                pieces.append(f"\\u{code:04X}" if code <= 0xFFFF and self.rng.random() < 0.5 else f"\\U{code:08X}")
        return "".join(pieces)

    def string(self):
        r = self.rng.random()
        if r < 0.4:
            return '"' + self.basic_content(6) + '"'
        if r < 0.6:
            return "'" + "".join(self.rng.choice("ab \\\"é") for _ in range(self.rng.randint(0, 6))) + "'"
        if r < 0.8:
            body = self.rng.choice(["", "\n"]) + self.basic_content(4) + self.rng.choice(["", "\n", "\\\n  ", '"', '""']) + self.basic_content(3)
            return '"""' + body + '"""'
        body = self.rng.choice(["", "\n"]) + "".join(self.rng.choice("ab \\\"\n'") for _ in range(self.rng.randint(0, 6)))
        return "'''" + body.replace("'''", "''") + "'''"

    def integer(self):
        r = self.rng.random()
        if r < 0.5:
            value = self.rng.choice([0, 1, 7, 42, 1000, 2**31, 2**63 - 1, -(2**63), -17])
            text = str(value)
            if self.rng.random() < 0.3 and len(text.lstrip("-")) > 1:
                digits = text.lstrip("-")
                text = text[: len(text) - len(digits)] + digits[0] + "_" + digits[1:]
            if self.rng.random() < 0.1 and value >= 0:
                text = "+" + text
            return text
        if r < 0.65:
            return "0x" + self.rng.choice(["1F", "dead_beef", "7FFFFFFFFFFFFFFF", "0"])
        if r < 0.8:
            return "0o" + self.rng.choice(["17", "0", "7_7"])
        if r < 0.9:
            return "0b" + self.rng.choice(["101", "0", "1_0"])
        return self.rng.choice(["9223372036854775808", "-9223372036854775809", "0x8000000000000000"])

    def float(self):
        return self.rng.choice([
            "3.14", "-0.0", "+1.5", "1e5", "1E-5", "6.02e+23", "1_000.000_1", "0.1", "5e-324",
            "1.7976931348623157e308", "1e400", "inf", "-inf", "+inf", "nan", "-nan", "0e0", "1e06",
        ])

    def date_time(self):
        year = self.rng.choice(["1979", "2000", "1900", "0001", "9999"])
        month = self.rng.choice(["01", "02", "12", "13", "00"])
        day = self.rng.choice(["01", "28", "29", "30", "31", "32"])
        time = self.rng.choice(["07:32:00", "23:59:59", "00:00:00.5", "12:30:45.123456789", "24:00:00", "12:60:00"])
        zone = self.rng.choice(["", "Z", "z", "+05:30", "-07:00", "+24:00"])
        sep = self.rng.choice(["T", "t", " "])
        r = self.rng.random()
        if r < 0.3:
            return f"{year}-{month}-{day}"
        if r < 0.5:
            return time
        return f"{year}-{month}-{day}{sep}{time}{zone}"

    def value(self, depth=0):
        r = self.rng.random()
        if depth < 3 and r < 0.12:
            items = [self.value(depth + 1) for _ in range(self.rng.randint(0, 3))]
            sep = self.rng.choice([", ", ",\n  ", " , "])
            trail = self.rng.choice(["", ",", ", # c\n"])
            return "[" + sep.join(items) + (trail if items else "") + "]"
        if depth < 3 and r < 0.2:
            pairs = [f"{self.key()} = {self.value(depth + 1)}" for _ in range(self.rng.randint(0, 3))]
            return "{" + ", ".join(pairs) + "}"
        if r < 0.45:
            return self.string()
        if r < 0.65:
            return self.integer()
        if r < 0.8:
            return self.float()
        if r < 0.9:
            return self.rng.choice(["true", "false"])
        return self.date_time()

    def document(self):
        lines = []
        names = [self.key_part() for _ in range(3)]
        for _ in range(self.rng.randint(1, 8)):
            r = self.rng.random()
            if r < 0.15:
                path = ".".join(self.rng.choice(names) for _ in range(self.rng.randint(1, 3)))
                lines.append(self.rng.choice(["[", "[[", "[ "]).replace(" ", "") + path + ("]]" if lines and self.rng.random() < 0.3 else "]"))
                if lines[-1].startswith("[[") and not lines[-1].endswith("]]"):
                    lines[-1] += "]"
            elif r < 0.2:
                lines.append(self.rng.choice(["", "# comment", "   # indented é", "\t"]))
            else:
                key = self.rng.choice(names) + "." + self.key() if self.rng.random() < 0.3 else self.key()
                lines.append(f"{key} = {self.value()}" + self.rng.choice(["", "  # trailing", " "]))
        newline = self.rng.choice(["\n", "\n", "\r\n"])
        return newline.join(lines) + self.rng.choice(["", newline])

    def mutate(self, text):
        data = bytearray(text.encode("utf-8"))
        for _ in range(self.rng.randint(1, 3)):
            position = self.rng.randrange(len(data) + 1)
            byte = self.rng.choice(b"[]{}\"'\\=.,#\n\r\t 0x_e:-+Zazu")
            choice = self.rng.random()
            if choice < 0.4 and position < len(data):
                data[position] = byte
            elif choice < 0.7:
                data.insert(position, byte)
            elif position < len(data):
                del data[position]
        return bytes(data)


# MARK: Comparison


def tag(value):
    if isinstance(value, bool):
        return {"type": "bool", "value": "true" if value else "false"}
    if isinstance(value, int):
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": "nan" if math.isnan(value) else struct.pack(">d", value).hex()}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, datetime.datetime):
        return {"type": "datetime" if value.tzinfo else "datetime-local", "value": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"type": "date-local", "value": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"type": "time-local", "value": value.isoformat()}
    if isinstance(value, list):
        return [tag(item) for item in value]
    return {key: tag(item) for key, item in value.items()}


def has_wide_integer(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**63
    if isinstance(value, list):
        return any(has_wide_integer(item) for item in value)
    if isinstance(value, dict):
        return any(has_wide_integer(item) for item in value.values())
    return False


def reference(data):
    try:
        return tomllib.loads(data.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except tomllib.TOMLDecodeError as error:
        return None, str(error)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**32))
    args = parser.parse_args()
    print(f"== TOML differential: {args.count} documents, seed {args.seed} "
          f"(rerun: scripts/toml-differential.py --count {args.count} --seed {args.seed})", flush=True)
    build_tool()
    rng = random.Random(args.seed)
    generator = Generator(rng)
    documents = []
    for index in range(args.count):
        text = generator.document()
        documents.append(text.encode("utf-8") if index % 2 == 0 else generator.mutate(text))
    directory = pathlib.Path(tempfile.mkdtemp(prefix="p2mp-toml-differential-"))
    try:
        for index, data in enumerate(documents):
            (directory / f"{index:06d}.toml").write_bytes(data)
        output = subprocess.run([str(TOOL), str(directory)], check=True, capture_output=True, timeout=300).stdout
    finally:
        shutil.rmtree(directory)
    ours = {}
    for line in output.decode("utf-8").splitlines():
        name, result = line.split("\t", 1)
        ours[int(name.split(".")[0])] = json.loads(result)
    counts = {"both accept, same values": 0, "both refuse": 0, "wider than 64 bits (expected)": 0}
    disagreements = []
    for index, data in enumerate(documents):
        expected, error = reference(data)
        got = ours.get(index)
        if got is None:
            disagreements.append((index, "no answer from the p2mp parser", data))
        elif expected is None and "error" in got:
            counts["both refuse"] += 1
        elif expected is not None and "ok" in got:
            if got["ok"] == tag(expected):
                counts["both accept, same values"] += 1
            else:
                disagreements.append((index, f"values differ:\n  tomllib {tag(expected)}\n  p2mp    {got['ok']}", data))
        elif expected is not None and has_wide_integer(expected):
            counts["wider than 64 bits (expected)"] += 1
        elif expected is None:
            disagreements.append((index, f"tomllib refuses ({error}), p2mp accepts", data))
        else:
            disagreements.append((index, f"tomllib accepts, p2mp refuses (line {got['error']})", data))
    for name, count in counts.items():
        print(f"   {count:6d} {name}")
    for index, why, data in disagreements[:10]:
        print(f"-- document {index}: {why}\n{data!r}")
    print(f"{len(documents) - len(disagreements)} passed, {len(disagreements)} failed")
    sys.exit(1 if disagreements else 0)


if __name__ == "__main__":
    main()
