#!/usr/bin/env python3
"""Does listing a spool stall a push? (docs/HARDENING.md, "Nothing blocks the event loop")

    bench/list-under-push.py --bin .build/release [--push-mib 256] [--rate 400M] [--lists 100]
                             [--spool-gib 1] [--rounds 3]

Starts p2mpd on 127.0.0.1 with a spool holding SPOOL_GIB of files it did not receive (no
sidecars: a listing must hash them), then pushes PUSH_MIB with p2mpsend through a UDP relay
in this script, which forwards both ways and timestamps every datagram the daemon sends
back (the ACKs). Each round pushes once alone and once while LISTS listings (LIST, cursor
0, each from a fresh request id, spread over the push) are asked of the same daemon. Prints,
per round and as medians: the push's goodput alone and with the listings, the drop in
percent, and the largest gap between two ACKs in each case. The targets (issue 15): a drop
under 10 % and no gap of 50 ms or more while the listings run.

The relay (Python) limits the push to what it can forward, so pushes are rate-limited
(--rate, passed to p2mpsend) below that: a stall shows as a longer push and a long gap
between ACKs. Timing on a loaded machine is noisy: read the medians, and run it on a quiet
machine for figures.
"""
import argparse
import os
import random
import select
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from p2mpwire import native  # noqa: E402

DAEMON = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((DAEMON, 0))
        return probe.getsockname()[1]


def list_datagram(request: int) -> bytes:
    return native("list", request, struct.pack(">I", 0))


class Relay(threading.Thread):
    """Forwards sender <-> daemon and records when each datagram from the daemon arrived."""

    def __init__(self, daemon_port: int):
        super().__init__(daemon=True)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind((DAEMON, 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind((DAEMON, 0))
        for sock in (self.front, self.back):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.daemon_address = (DAEMON, daemon_port)
        self.sender = None
        self.replies = []
        self.running = True

    @property
    def port(self) -> int:
        return self.front.getsockname()[1]

    def run(self):
        while self.running:
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            for sock in ready:
                data, address = sock.recvfrom(70000)
                if sock is self.front:
                    self.sender = address
                    self.back.sendto(data, self.daemon_address)
                elif self.sender is not None:
                    self.replies.append(time.monotonic())
                    self.front.sendto(data, self.sender)

    def largest_gap(self, start: float, end: float) -> float:
        times = [t for t in self.replies if start <= t <= end]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def push(args, relay: Relay, file: str, name: str) -> tuple:
    """Pushes `file` through the relay; its goodput (MB/s) and the largest ACK gap (s)."""
    relay.replies.clear()
    start = time.monotonic()
    result = subprocess.run(
        [os.path.join(args.bin, "p2mpsend"), "push", file, f"{DAEMON}:{relay.port}", "--name", name, "--quiet",
         "--rate", args.rate], capture_output=True, text=True)
    end = time.monotonic()
    if result.returncode != 0:
        raise SystemExit(f"the push failed: {result.stderr}")
    return os.path.getsize(file) / (end - start) / 1e6, relay.largest_gap(start + 0.2, end - 0.2)


def ask_listings(count: int, seconds: float, daemon_port: int, rng: random.Random):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.6", 0))
    for index in range(count):
        sock.sendto(list_datagram(rng.getrandbits(64)), (DAEMON, daemon_port))
        time.sleep(seconds / count)
    sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--push-mib", type=int, default=256)
    parser.add_argument("--rate", default="400M", help="p2mpsend --rate for every push")
    parser.add_argument("--lists", type=int, default=100)
    parser.add_argument("--spool-gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"list-under-push: {args.push_mib} MiB at --rate {args.rate}, {args.lists} listings of "
          f"{args.spool_gib} GiB without sidecars, {args.rounds} rounds, seed {args.seed}, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="p2mp-listbench-") as directory:
        spool = os.path.join(directory, "spool")
        os.makedirs(spool)
        block = rng.randbytes(16 << 20)
        for index in range(int(args.spool_gib * 64)):
            with open(os.path.join(spool, f"placed-{index:03d}.bin"), "wb") as file:
                file.write(block[index:] + block[:index])
        file = os.path.join(directory, "push.bin")
        with open(file, "wb") as out:
            out.write(rng.randbytes(args.push_mib << 20))
        port = free_port()
        config = os.path.join(directory, "p2mpd.toml")
        with open(config, "w") as out:
            out.write(f'listen = ["{DAEMON}:{port}"]\nspool = "{spool}"\nmin_free_space = "0"\nconflict = "replace"\n'
                      'log_level = "notice"\n')
        log_path = os.path.join(directory, "p2mpd.log")
        with open(log_path, "w") as log:
            daemon = subprocess.Popen([os.path.join(args.bin, "p2mpd"), "--config", config], stdout=log, stderr=log)
        try:
            while "listening on" not in open(log_path).read():
                if daemon.poll() is not None:
                    raise SystemExit(open(log_path).read())
                time.sleep(0.05)
            relay = Relay(port)
            relay.start()
            rows = []
            for round_ in range(args.rounds):
                alone = push(args, relay, file, f"alone-{round_}.bin")
                expected = (args.push_mib << 20) / (alone[0] * 1e6)
                lister = threading.Thread(target=ask_listings, args=(args.lists, expected * 0.8, port, rng))
                lister.start()
                listed = push(args, relay, file, f"listed-{round_}.bin")
                lister.join()
                drop = (1 - listed[0] / alone[0]) * 100
                rows.append((alone, listed, drop))
                print(f"round {round_ + 1}: alone {alone[0]:.1f} MB/s (largest ACK gap {alone[1] * 1000:.1f} ms); "
                      f"with {args.lists} listings {listed[0]:.1f} MB/s (largest ACK gap {listed[1] * 1000:.1f} ms); "
                      f"goodput drop {drop:.1f} %")
            relay.running = False
            drop = statistics.median(row[2] for row in rows)
            gap = statistics.median(row[1][1] for row in rows)
            print(f"median: goodput drop {drop:.1f} % (target < 10 %), largest ACK gap with listings {gap * 1000:.1f} ms "
                  f"(target < 50 ms), load {os.getloadavg()[0]:.1f}")
            return 0 if drop < 10 and gap < 0.05 else 1
        finally:
            daemon.kill()
            daemon.wait()


if __name__ == "__main__":
    sys.exit(main())
