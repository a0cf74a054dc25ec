#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets, Tests/Fuzz/Corpus/TARGET/NAME.

Datagrams come from the test-vector blocks of docs/PROTOCOL.md (the secure envelope's
too), configurations from
etc/p2mp/p2mpd.toml and the shapes the configuration tests use, fleet files, key files and
spool names from their tests. Run it after changing any of those; `make fuzz` reads the result.
Seeds for the config target are several files joined by NUL bytes: the first half of them
are the first set (main file, then drop-ins), the rest the set reloaded after it.
"""
import base64
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Tests" / "Fuzz" / "Corpus"
FLEET_TYPES = {"list", "listing", "move", "remove", "result", "get"}


def block(text, name):
    match = re.search(r"```" + name + r"\n(.*?)```", text, re.S)
    return [line for line in match.group(1).splitlines() if line.strip()]


def hex_bytes(text):
    return bytes.fromhex(text.replace("|", " "))


def secure_datagrams(protocol):
    """The datagrams of the secure vectors ("secret-", "key-" and other values are not)."""
    seeds = {}
    for line in block(protocol, "secure-test-vectors aes-256-gcm"):
        label, data = line.split(" => ")
        packet = hex_bytes(data)
        if packet[:3] == b"P2\x02":
            seeds[label] = packet
    # The plaintexts sealed inside: verdicts (accepted with push and read, refused with a
    # reason) and a proof (key, signature, Finished).
    seeds["verdict-accepted"] = bytes([0, 3, 0])
    seeds["verdict-refused"] = bytes([1, 0, 11]) + b"not trusted"
    seeds["proof"] = bytes(range(32)) + bytes(range(64, 128)) + bytes(range(128, 160))
    return seeds


def datagrams(protocol):
    seeds = {"native": {}, "fleet": {}, "classic": {}}
    for line in block(protocol, "native-test-vectors"):
        label, packet = line.split(" => ")
        target = "fleet" if label.split("-")[0] in FLEET_TYPES else "native"
        seeds[target][label] = hex_bytes(packet)
    for line in block(protocol, "test-vectors"):
        fields, packet = line.split(" => ")
        _, kind, sequence, _ = fields.split(" ")
        seeds["classic"][f"{kind}-{sequence}"] = hex_bytes(packet)
    return seeds


EVERY_KEY = """\
listen = ["127.0.0.1:9000", "[::1]:9000"]
spool = "/srv/p2mp"
loss = 0.25
max_file_size = "2T"
min_free_space = 1048576
max_transfers = 100000
max_partials = 5
max_partials_per_sender = 100000
idle_timeout = 2.5
log_level = "debug"
loss_event_interval = 1.5
allow = ["10.0.0.0/8", "fd00::/8"]
conflict = "keep-both"
partial_max_age = 3600
post_receive = "/usr/local/bin/on-receive --quiet"
post_receive_timeout = 5
manage_allow = ["192.0.2.10"]
"""

TOML = {
    "every-key": EVERY_KEY,
    "unknown-key": 'loss = 0\n\n  spool_dri = "/srv"\n',
    "bad-values": 'loss = 2\nlog_level = "loud"\nmax_transfers = 0\nmin_free_space = "18446744073709551615"\n',
    "tables": 'loss = 0.5\n[server]\nspool = "/elsewhere"\n\n[[peers]]\nname = "a"\n[ "quoted" . inner ]\n',
    "strings": "post_receive = '''\nloss = 2\n'''\nx = \"\"\"a \\\"\"\"\nloss = 3\"\"\"\ny = 'C:\\\\'\nz = \"\\u00e9\\U0001F600\\t\"\n",
    "arrays": 'allow = [\n  "10.0.0.0/8", # comment\n  "192.0.2.0/24",\n]\nx = [[1, 2], ["a"], { b = 1 }, ]\n',
    "numbers": "a = 0x1F\nb = -0o17\nc = +1.5e-3\nd = 1_000\ne = inf\nf = -nan\ng = 0b101\nh = 6.02E+23\n",
    "dates": "d = 1979-05-27T07:32:00Z\ne = 07:32:00.5\nf = 1979-05-27 07:32:00-07:00\ng = 2000-02-29\n",
    "dotted": 'spool.path = "/srv"\na.b.c = 1\na.b.d = 2\n"x"."y" = true\n',
    "inline": 'x = { a = 1, "b" = "2", c.d = [3] }\ny = {}\n',
    "crlf-bom": "\ufeffloss = 0.5\r\n\r\nmax_transfers = 0\r\n",
    "syntax-error": 'loss = 0.5\nspool = "/srv\n',
    "duplicate": "loss = 0.5\n\nloss = 0.1\n",
    "hazards": 'allow = [ "10.0.0.0/8", } ]\n[/t]\nd = 1979-05-27Tn7:32:00Z\n',
}

FLEET_FILES = {
    "plain": "web-01\nweb-02:9000\n10.0.0.3\n",
    "comments": "# the web tier\n  web-01   # rack 1\n\t\nweb-02\t#rack 2\n\n   # indented\n\tweb-03:7736\t\n",
    "ipv6": "::1\n[fe80::1%eth0]\n[2001:db8::7]:9000\n2001:db8::8\n",
    "line-ends": "a\r\nb\rc\n\ufeffd\n",
    "errors": "ok\nweb-01:99999\na b\nx#y\nok\n[::1\n",
}

KEY_A = "p2mp-ed25519 " + base64.b64encode(bytes(range(1, 33))).decode()
KEY_B = "p2mp-ed25519 " + base64.b64encode(bytes(range(33, 65))).decode()
KEY_FILES = {
    "trusted-senders": f"# who may push\n{KEY_A} ops@build\npush,read,manage,names=releases/ {KEY_B}\n",
    "trusted-senders-errors": f"push,fly {KEY_A}\n{KEY_A}\n{KEY_A} again\nnames=/abs {KEY_B}\nread\n",
    "known-hosts": f"web-01 {KEY_A} first seen\n[10.0.0.7]:9000 {KEY_B}\r\n\ufeff",
    "known-hosts-errors": f"web-01\nWEB-01 {KEY_A}\nweb-01 {KEY_B}\nhost p2mp-ed25519 AAAA\nhost ssh-rsa AAAA\n",
}

SPOOL_NAMES = [
    "a", "releases/app-1.4.2.tar.gz", "r\u00e9sum\u00e9.txt", "dir/sub/file.bin", "../etc/passwd",
    "/etc/passwd", "a//b", "a/./b", "a/", ".p2mp/state", ".P2MP/x", "-rf", "x" * 255, "x" * 256,
    "/".join(["d"] * 2048), "a\u202eb", "\ufeffbom", "nul\x00byte", "tab\tname",
]


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    protocol = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    for target, seeds in datagrams(protocol).items():
        for name, data in seeds.items():
            write(target, name, data)
    for name, data in secure_datagrams(protocol).items():
        write("secure", name, data)
    for name, text in KEY_FILES.items():
        write("keys", name, text)
    shipped = (ROOT / "etc" / "p2mp" / "p2mpd.toml").read_bytes()
    write("toml", "shipped", shipped)
    for name, text in TOML.items():
        write("toml", name, text)
    uncommented = re.sub(rb"(?m)^#(?=[a-z])", b"", shipped)
    write("config", "shipped-then-every-key", shipped + b"\0" + EVERY_KEY.encode())
    write("config", "drop-ins-then-broken", b"\0".join([
        uncommented, b"loss = 0.1\nmax_transfers = 8\n", b'log_level = "debug"\n',
        TOML["bad-values"].encode(), b"loss = \n"]))
    write("config", "tables-then-fixed", b"\0".join([TOML["tables"].encode(), b"loss = 0.2\n"]))
    for name, text in FLEET_FILES.items():
        write("fleetfile", name, text)
    for index, name in enumerate(SPOOL_NAMES):
        write("spoolname", f"name-{index:02d}", name)


if __name__ == "__main__":
    main()
