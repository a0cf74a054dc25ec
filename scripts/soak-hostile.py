#!/usr/bin/env python3
"""Hostile traffic at a running p2mpd while an honest push runs (docs/HARDENING.md).

    scripts/soak-hostile.py --bin .build/debug [--datagrams 1000000] [--push-mib 256]
                            [--seconds 240] [--seed N]

Starts p2mpd on 127.0.0.1 with a spool of its own, pushes a file of PUSH_MIB with p2mpsend
(rate-limited so that it lasts the whole flood), and meanwhile fires DATAGRAMS datagrams
from other loopback addresses: random bytes of every length up to 65,507; native datagrams
of every type with a valid CRC and one field corrupted (version, type, lengths +-1, huge
counts, offsets and sizes, inverted or overflowing SACK ranges); truncated datagrams;
replays of a session recorded at the start; OFFER floods with random ids, huge sizes and
hostile names; and secure-envelope junk (every handshake type, valid and invalid lengths).
Every random choice comes from SEED (printed); the run is bounded by SECONDS.

First, each pattern of requests that used to stall the loop is sent from one address at a
daemon whose hook sleeps 20 s (empty-file OFFERs, names of 32 components, LIST floods
against files without sidecars, GETs nobody accepts, OFFERs of names whose file must be
hashed), while a probe measures how long the loop takes to answer a handshake: under 1 s.

Checks, each printed: the daemon stays up and answers the probe within 1 s; its RSS stays under 64 MiB (sampled, and
VmHWM at the end); the honest push exits 0 and its file is byte-identical; nothing but the
honest and the recorded file is in the spool; partials other than the honest push's never
hold space; the daemon logged its drops by cause. Exit status 0 when every check passed.
"""
import argparse
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from p2mpwire import TYPES, crc32c, native, offer_body

DAEMON = "127.0.0.1"
# Linux's SO_TIMESTAMPNS (and SCM_TIMESTAMPNS, the same value), which Python's socket module
# does not name: a struct timespec of the kernel's receive time beside each datagram.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def free_port() -> int:
    """A UDP port free on the daemon's address now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((DAEMON, 0))
        return probe.getsockname()[1]


PORT = free_port()
RSS_LIMIT = 64 << 20
HOSTILE_NAMES = [
    "../escape", "/etc/passwd", "a//b", ".p2mp/x", ".P2MP/x", "-rf", "dir/-x", "next\u0085line", "csi\u009b31m",
    "invoice\u202efdp.exe", "\ufeffbom", "nul\x00byte", "tab\tname", "/".join(["d"] * 33), "/".join(["d"] * 2048)[:4096],
    "x" * 256, "é" * 2000, "ok-name-{}.bin",
]


class Flood:
    """Builds the hostile datagrams, each kind in turn, from one seeded generator."""

    def __init__(self, rng: random.Random, recorded: list):
        self.rng = rng
        self.recorded = recorded
        self.noise = rng.randbytes(1 << 17)
        self.kinds = [self.random_bytes, self.corrupted_native, self.truncated, self.replay, self.offer_flood,
                      self.secure_junk]

    def next(self) -> bytes:
        return self.rng.choice(self.kinds)()

    def random_bytes(self) -> bytes:
        length = self.rng.choice([self.rng.randint(0, 64), self.rng.randint(0, 2048), self.rng.randint(0, 65507)])
        start = self.rng.randint(0, len(self.noise) - 1)
        data = (self.noise[start:] + self.noise)[:length]
        return data

    def corrupted_native(self) -> bytes:
        r = self.rng
        transfer = r.getrandbits(64)
        kind = r.choice(list(TYPES))
        huge = r.choice([0, 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, r.getrandbits(64)])
        if kind == "offer":
            body = offer_body(r.choice([0, 1, 1400, 65000, 65001, 2**32 - 1]), huge, r.randbytes(32),
                              r.choice([0, 1, 2**32 - 1]), r.getrandbits(32), b"file.bin")
        elif kind == "data":
            body = struct.pack(">QI", huge, r.getrandbits(32)) + r.randbytes(r.choice([0, 1, 999, 1000, 1001]))
        elif kind == "ack":
            ranges = r.choice([[(15, 12)], [(2**64 - 2, 2**64 - 1), (0, 1)], [(5, 5)], [(huge, huge ^ 1)] * 16,
                               [(i, i + 1) for i in range(0, 40, 2)]])
            count = min(len(ranges), 255) + r.choice([0, 0, 1, -1])
            body = struct.pack(">QIIB", huge, r.getrandbits(32), r.getrandbits(32), max(0, count) & 0xFF)
            body += b"".join(struct.pack(">QQ", a % 2**64, b % 2**64) for a, b in ranges)
        elif kind in ("list",):
            body = struct.pack(">I", huge & 0xFFFFFFFF)
        elif kind in ("remove", "get"):
            name = r.choice(HOSTILE_NAMES).format(r.getrandbits(16)).encode("utf-8", "surrogatepass")[:4096]
            body = struct.pack(">H", (len(name) + r.choice([0, 0, 1, -1])) & 0xFFFF) + name
        elif kind == "move":
            a, b = (r.choice(HOSTILE_NAMES).encode()[:4096] for _ in range(2))
            body = struct.pack(">H", len(a)) + a + struct.pack(">H", len(b)) + b
        else:
            body = r.randbytes(r.randint(0, 64))
        datagram = bytearray(native(kind, transfer, body))
        what = r.randint(0, 3)
        if what == 0:
            datagram[2] = r.choice([0, 2, 3, 255])  # version
        elif what == 1:
            datagram[3] = r.choice([0, 15, 16, 255])  # type
        elif what == 2 and len(datagram) > 20:
            position = r.randint(12, len(datagram) - 5)
            datagram[position] ^= 1 << r.randint(0, 7)
        crc = crc32c(bytes(datagram[:-4]))
        datagram[-4:] = struct.pack(">I", crc)
        return bytes(datagram)

    def truncated(self) -> bytes:
        whole = self.corrupted_native() if self.rng.random() < 0.5 else self.rng.choice(self.recorded)
        return whole[:self.rng.randint(0, max(0, len(whole) - 1))]

    def replay(self) -> bytes:
        return self.rng.choice(self.recorded)

    def offer_flood(self) -> bytes:
        r = self.rng
        name = r.choice(HOSTILE_NAMES).format(r.getrandbits(32)).encode("utf-8", "surrogatepass")[:4096]
        size = r.choice([0, 1, 1 << 20, 1 << 40, 2**63, 2**64 - 1, r.getrandbits(64)])
        return native("offer", r.getrandbits(64), offer_body(1400, size, r.randbytes(32), 64, r.getrandbits(1), name))

    def secure_junk(self) -> bytes:
        r = self.rng
        kind = r.randint(0, 7)
        length = r.choice([12, 27, 28, 29, 155, 156, 157, 195, 196, 197, 255, 256, 257, 31, 151, 36, r.randint(0, 2048)])
        body = r.randbytes(max(0, length - 12))
        if kind == 1 and length == 256 and r.random() < 0.5:
            body = r.randbytes(32) + bytes([r.choice([0, 1])]) + bytes(16) + bytes(256 - 12 - 49)
        return (b"P2\x02" + bytes([kind]) + struct.pack(">Q", r.getrandbits(64)) + body)[:max(length, 4)]


def record_session(directory: str, rng: random.Random) -> tuple:
    """Pushes a small file by hand (OFFER, then DATA after the ACCEPT) from 127.0.0.9 and
    returns every datagram sent: the recorded session to replay later, and the file."""
    content = rng.randbytes(200_000)
    digest = hashlib.sha256(content).digest()
    transfer = rng.getrandbits(64)
    segment = 1000
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.9", 0))
    sock.settimeout(0.2)
    sent = []
    offer = native("offer", transfer, offer_body(segment, len(content), digest, 4096, 0, b"recorded.bin"))
    datagrams = [native("data", transfer, struct.pack(">QI", i, 0) + content[i * segment:(i + 1) * segment])
                 for i in range((len(content) + segment - 1) // segment)]
    deadline = time.monotonic() + 30
    accepted = complete = False
    while not complete and time.monotonic() < deadline:
        if not accepted:
            sock.sendto(offer, (DAEMON, PORT))
            sent.append(offer)
        else:
            for d in datagrams:
                sock.sendto(d, (DAEMON, PORT))
            sent.extend(datagrams)
        try:
            while True:
                reply, _ = sock.recvfrom(70000)
                if len(reply) >= 16 and reply[3] == TYPES["accept"]:
                    accepted = True
                if len(reply) >= 16 and reply[3] == TYPES["complete"]:
                    complete = True
        except socket.timeout:
            pass
    sock.close()
    if not complete:
        raise SystemExit("FAIL: the recorded session did not complete")
    return sent, content


class Probe:
    """Measures how long the daemon's loop takes to answer: a handshake INITIATE (fresh
    session id and key) every 50 ms from its own address, answered at once by RESPONSE or
    RETRY whatever else the daemon does; the largest wait for an answer is the longest stall.

    An answer's time is the kernel's receive timestamp (SO_TIMESTAMPNS), not the moment
    this script reads it: on a loaded machine the script itself waits for a CPU, and that
    wait is not the daemon's. Both ends are wall-clock times (the kernel stamps with
    CLOCK_REALTIME)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.8", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setblocking(False)
        self.pending = {}
        self.largest = 0.0
        self.unanswered = 0
        self.next_send = 0.0

    def initiate(self) -> tuple:
        session = self.rng.getrandbits(64) | 1
        body = self.rng.randbytes(32) + bytes(1 + 16)
        datagram = b"P2\x02\x01" + struct.pack(">Q", session) + body
        return session, datagram + bytes(256 - len(datagram))

    def poll(self, now: float):
        """Reads answers and sends the next INITIATE when due; never blocks. `now` is
        time.time()."""
        while True:
            try:
                reply, ancillary, _, _ = self.sock.recvmsg(2048, socket.CMSG_SPACE(16))
            except BlockingIOError:
                break
            arrived = now
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                    seconds, nanoseconds = struct.unpack("@qq", data[:16])
                    arrived = seconds + nanoseconds / 1e9
            if len(reply) >= 12:
                sent = self.pending.pop(struct.unpack(">Q", reply[4:12])[0], None)
                if sent is not None:
                    self.largest = max(self.largest, arrived - sent)
        for session, sent in list(self.pending.items()):
            if now - sent > 5:  # Counted as a stall of 5 s at least.
                self.largest = max(self.largest, now - sent)
                self.unanswered += 1
                del self.pending[session]
        if now >= self.next_send:
            self.next_send = now + 0.05
            session, datagram = self.initiate()
            self.pending[session] = time.time()
            self.sock.sendto(datagram, (DAEMON, PORT))

    def settle(self):
        """Waits for the answers still due (at most 5 s)."""
        deadline = time.time() + 5
        while self.pending and time.time() < deadline:
            self.next_send = float("inf")
            self.poll(time.time())
            time.sleep(0.005)


def empty_offer(rng: random.Random, name: str) -> bytes:
    return native("offer", rng.getrandbits(64), offer_body(1400, 0, hashlib.sha256(b"").digest(), 64, 0, name.encode()))


def stall_patterns(rng: random.Random, spool: str) -> dict:
    """What one host can ask that used to stall the loop (issue 15), each a list of
    datagrams from one address: 300 OFFERs of empty files (committed at once, each
    starting a `sleep 20` hook); 200 files under names of 32 components (31 directories
    each); 2,000 LIST against a spool of files without sidecars; 20 GETs that nobody
    accepts; 500 OFFERs of names whose file has no sidecar (hashed to compare)."""
    deep = lambda index: "/".join([f"d{index}"] * 31 + ["f.bin"])
    lists = [native("list", rng.getrandbits(64), struct.pack(">I", 0)) for _ in range(2000)]
    big = [name for name in os.listdir(spool) if name.startswith("placed-")]
    gets = [native("get", rng.getrandbits(64), struct.pack(">H", len(n)) + n.encode()) for n in big[:20]]
    offers = [native("offer", rng.getrandbits(64), offer_body(1400, 4 << 20, rng.randbytes(32), 64, 0, n.encode()))
              for n in (big * 25)[:500]]
    return {
        "300 empty-file OFFERs, each starting a sleeping hook": [empty_offer(rng, f"empty-{i}.bin") for i in range(300)],
        "200 files of 32-component names": [empty_offer(rng, deep(i)) for i in range(200)],
        "2,000 LIST against files without sidecars": lists,
        "20 GETs nobody accepts": gets,
        "500 OFFERs of names whose file has no sidecar": offers,
    }


def run_stall_patterns(args, rng: random.Random, directory: str, check) -> None:
    """Runs each stall pattern at a daemon of its own configuration (post_receive =
    "sleep 20") and checks that the probe was answered within 1 s throughout."""
    spool = os.path.join(directory, "stall-spool")
    os.makedirs(spool)
    for index in range(16):  # 256 MiB the daemon did not receive: no sidecars
        with open(os.path.join(spool, f"placed-{index}.bin"), "wb") as file:
            file.write(rng.randbytes(16 << 20))
    config = os.path.join(directory, "stall.toml")
    with open(config, "w") as file:
        file.write(f'listen = ["{DAEMON}:{PORT}"]\nspool = "{spool}"\nmin_free_space = "0"\n'
                   'post_receive = "sleep 20"\npost_receive_timeout = 30\nlog_level = "notice"\n')
    daemon, log, log_path = start_daemon(args, config, os.path.join(directory, "stall.log"))
    try:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.7", 0))
        sender.setblocking(False)
        for label, datagrams in stall_patterns(rng, spool).items():
            probe = Probe(rng)
            end = time.monotonic() + 3
            for datagram in datagrams:
                sender.sendto(datagram, (DAEMON, PORT))
                probe.poll(time.time())
                time.sleep(0.001)
            while time.monotonic() < end:
                probe.poll(time.time())
                try:
                    while True:
                        sender.recvfrom(70000)
                except BlockingIOError:
                    pass
                time.sleep(0.005)
            probe.settle()
            check(probe.largest < args.stall_limit and daemon.poll() is None,
                  f"{label}: the loop answered within {probe.largest * 1000:.0f} ms ({probe.unanswered} unanswered)")
            probe.sock.close()
        sender.close()
    finally:
        daemon.kill()
        daemon.wait()
        log.close()


def start_daemon(args, config: str, log_path: str):
    log = open(log_path, "w")
    daemon = subprocess.Popen([os.path.join(args.bin, "p2mpd"), "--config", config], stdout=log, stderr=log)
    started = time.monotonic()
    while "listening on" not in open(log_path).read():
        if daemon.poll() is not None or time.monotonic() - started > 60:
            raise SystemExit("FAIL: p2mpd did not start:\n" + open(log_path).read())
        time.sleep(0.05)
    return daemon, log, log_path


def rss_of(pid: int) -> tuple:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(value.split()[0]) * 1024
    except FileNotFoundError:
        return (None, None)
    return values.get("VmRSS"), values.get("VmHWM")


def partial_space(spool: str, honest_key: str) -> int:
    """Bytes allocated by partials other than the honest push's."""
    total = 0
    directory = os.path.join(spool, ".p2mp", "partial")
    for entry in os.listdir(directory) if os.path.isdir(directory) else []:
        if entry.endswith(".data") and not entry.startswith(honest_key):
            try:
                total += os.stat(os.path.join(directory, entry)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="directory holding p2mpd and p2mpsend")
    parser.add_argument("--datagrams", type=int, default=1_000_000)
    parser.add_argument("--push-mib", type=int, default=256)
    parser.add_argument("--seconds", type=int, default=240, help="the flood's length (the run's bound is twice this)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--stall-limit", type=float, default=1.0,
                        help="the longest the probe may wait for an answer, in seconds (the target is 1)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(64)
    print(f"soak-hostile: seed {seed}, {args.datagrams} datagrams over {args.seconds} s, honest push {args.push_mib} MiB, "
          f"load average {os.getloadavg()[0]:.1f}")
    rng = random.Random(seed)
    started = time.monotonic()
    failures = []

    def check(condition, what):
        print(("ok    " if condition else "FAIL  ") + what)
        if not condition:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="p2mp-soak-") as directory:
        spool = os.path.join(directory, "spool")
        config = os.path.join(directory, "p2mpd.toml")
        with open(config, "w") as file:
            file.write(f'listen = ["{DAEMON}:{PORT}"]\nspool = "{spool}"\nmin_free_space = "0"\n'
                       'post_receive = "true"\nlog_level = "notice"\n')
        run_stall_patterns(args, rng, directory, check)
        daemon, log, log_path = start_daemon(args, config, os.path.join(directory, "p2mpd.log"))
        try:
            recorded, recorded_content = record_session(directory, rng)
            print(f"recorded a session of {len(recorded)} datagrams")

            honest = os.path.join(directory, "honest.bin")
            with open(honest, "wb") as file:
                for _ in range(args.push_mib):
                    file.write(rng.randbytes(1 << 20))
            honest_digest = hashlib.sha256(open(honest, "rb").read()).hexdigest()
            # The push lasts about 80 % of the flood, so the flood meets every phase of it.
            rate = max(8_000_000, int(args.push_mib * (1 << 20) * 8 / (0.8 * args.seconds)))
            push = subprocess.Popen(
                [os.path.join(args.bin, "p2mpsend"), "push", honest, f"{DAEMON}:{PORT}", "--quiet", "--rate", str(rate),
                 "--give-up", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

            flood = Flood(rng, recorded)
            sockets = []
            for index in range(16):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((f"127.66.{index}.{1 + index}", 0))
                sock.setblocking(False)
                sockets.append(sock)
            probe = Probe(rng)
            sent = largest_rss = largest_partials = 0
            next_sample = 0.0
            flood_start = time.monotonic()
            while sent < args.datagrams and time.monotonic() - flood_start < args.seconds * 2:
                datagram = flood.next()
                try:
                    sockets[sent % len(sockets)].sendto(datagram, (DAEMON, PORT))
                except (BlockingIOError, OSError):
                    pass  # A full socket buffer or a datagram too large: counted as sent all the same.
                sent += 1
                # Spread the datagrams over the flood's length.
                ahead = sent / args.datagrams * args.seconds - (time.monotonic() - flood_start)
                if ahead > 0.01:
                    time.sleep(ahead)
                now = time.monotonic()
                probe.poll(time.time())
                if now >= next_sample:
                    next_sample = now + 0.25
                    rss, _ = rss_of(daemon.pid)
                    largest_rss = max(largest_rss, rss or 0)
                    largest_partials = max(largest_partials, partial_space(spool, honest_digest))
            probe.settle()
            flood_seconds = time.monotonic() - flood_start
            print(f"sent {sent} hostile datagrams in {flood_seconds:.1f} s ({sent / flood_seconds:.0f}/s)")
            try:
                push_out, push_err = push.communicate(timeout=max(60, args.seconds))
            except subprocess.TimeoutExpired:
                push.kill()
                push_out, push_err = push.communicate()
            for sock in sockets:
                sock.close()

            alive = daemon.poll() is None
            _, high_water = rss_of(daemon.pid)
            check(alive, "p2mpd stayed up")
            check(probe.largest < args.stall_limit, f"the loop answered within {probe.largest * 1000:.0f} ms throughout the flood "
                  f"({probe.unanswered} unanswered)")
            check(largest_rss < RSS_LIMIT and (high_water or 0) < RSS_LIMIT,
                  f"RSS stayed under 64 MiB (largest sampled {largest_rss >> 20} MiB, VmHWM {(high_water or 0) >> 20} MiB)")
            check(push.returncode == 0, f"the honest push exited {push.returncode} {push_err.strip()[-300:]}")
            received = os.path.join(spool, "honest.bin")
            same = os.path.exists(received) and hashlib.sha256(open(received, "rb").read()).hexdigest() == honest_digest
            check(same, "the honest file is byte-identical")
            recorded_file = os.path.join(spool, "recorded.bin")
            check(os.path.exists(recorded_file) and open(recorded_file, "rb").read() == recorded_content,
                  "the recorded session's file is intact")
            names = sorted(os.path.relpath(os.path.join(root, name), spool)
                           for root, _, files in os.walk(spool) if ".p2mp" not in root.split(os.sep) for name in files)
            check(names == ["honest.bin", "recorded.bin"], f"nothing else is in the spool ({names[:5]})")
            check(largest_partials == 0, f"partials of OFFERs that sent no data held no space (largest {largest_partials})")
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
            text = open(log_path).read()
            stop = [line for line in text.splitlines() if "p2mpd stopping" in line]
            drops = [line for line in text.splitlines() if "dropped" in line and "since start" in line]
            check(bool(stop) and "dropped:" in stop[-1], "the stop message counts the drops by cause")
            check(bool(drops), f"drop events were logged ({len(drops)})")
            if stop:
                print("  " + stop[-1].split("dropped:")[-1].strip())
        finally:
            if daemon.poll() is None:
                daemon.kill()
            log.close()
            if failures:
                print("p2mpd's log (last 30 lines):")
                print("\n".join(open(log_path).read().splitlines()[-30:]))
    print(f"soak-hostile: {'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'} "
          f"(seed {seed}, {time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.1f})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
