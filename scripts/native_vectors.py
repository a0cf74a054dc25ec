#!/usr/bin/env python3
"""Independent reference encoder for the p2mp native v1 test vectors.

Written from the layout in docs/PROTOCOL.md, not from the Swift code, with its own bitwise
CRC-32C, so the documented vectors check the Swift codec against a second implementation.
Prints the ```native-test-vectors block.
"""
import hashlib
import struct


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

TYPES = {"offer": 1, "accept": 2, "reject": 3, "data": 4, "ack": 5, "complete": 6, "probe": 7, "abort": 8,
         "list": 9, "listing": 10, "move": 11, "remove": 12, "result": 13,
         "get": 14}


def datagram(kind: str, transfer: int, fields: list[bytes]):
    header = b"P2" + bytes([1, TYPES[kind]]) + struct.pack(">Q", transfer)
    body = b"".join(fields)
    crc = struct.pack(">I", crc32c(header + body))
    return [header] + fields + [crc]


def text(value: str) -> list[bytes]:
    encoded = value.encode("utf-8")
    assert len(encoded) <= 1024
    return [struct.pack(">H", len(encoded)), encoded] if encoded else [struct.pack(">H", 0)]


HELLO = hashlib.sha256(b"hello").digest()
EMPTY = hashlib.sha256(b"").digest()
T = 0x0123456789ABCDEF

name = "résumé.txt".encode("utf-8")
vectors = [
    ("offer", datagram("offer", T, [
        struct.pack(">I", 1400), struct.pack(">Q", 1_000_000), HELLO, struct.pack(">I", 64),
        struct.pack(">I", 1), struct.pack(">H", len(name)), name])),
    ("offer-empty-file", datagram("offer", 0xFFFFFFFFFFFFFFFF, [
        struct.pack(">I", 0xFFFFFFFF), struct.pack(">Q", 0), EMPTY, struct.pack(">I", 1),
        struct.pack(">I", 0), struct.pack(">H", 1), b"a"])),
    ("accept", datagram("accept", T, [struct.pack(">Q", 42), struct.pack(">I", 128), bytes([0])])),
    ("accept-already-complete", datagram("accept", 1, [struct.pack(">Q", 0), struct.pack(">I", 0), bytes([1])])),
    ("reject", datagram("reject", T, [struct.pack(">H", 4)] + text("exists with different content"))),
    ("reject-unknown-reason", datagram("reject", T, [struct.pack(">H", 0xBEEF)] + text(""))),
    ("data", datagram("data", T, [struct.pack(">Q", 7), struct.pack(">I", 0x01020304), b"hello"])),
    ("data-empty", datagram("data", 0, [struct.pack(">Q", 0xFFFFFFFFFFFFFFFF), struct.pack(">I", 0xFFFFFFFF)])),
    ("ack", datagram("ack", T, [
        struct.pack(">Q", 10), struct.pack(">I", 64), struct.pack(">I", 0x01020304), bytes([2]),
        struct.pack(">QQ", 12, 15), struct.pack(">QQ", 20, 21)])),
    ("ack-no-sack", datagram("ack", T, [
        struct.pack(">Q", 0), struct.pack(">I", 32), struct.pack(">I", 0), bytes([0])])),
    ("complete", datagram("complete", T, [bytes([0]), HELLO] + text(""))),
    ("complete-digest-mismatch", datagram("complete", T, [bytes([1]), EMPTY] + text("digest mismatch"))),
    ("complete-with-reception", datagram("complete", T, [bytes([0]), HELLO] + text("") + [
        struct.pack(">8Q", 1000, 2, 20, 19, 5, 5, 1, 0)])),
    ("probe", datagram("probe", T, [])),
    ("abort", datagram("abort", T, [struct.pack(">H", 5)] + text("shutting down"))),
    ("list", datagram("list", T, [struct.pack(">I", 0)])),
    ("listing", datagram("listing", T, [
        struct.pack(">I", 2), struct.pack(">I", 1), struct.pack(">H", 1),
        struct.pack(">Q", 5), struct.pack(">Q", 1_795_000_000), HELLO, struct.pack(">H", 9), b"hello.txt"])),
    ("move", datagram("move", T, [struct.pack(">H", 5), b"a.bin", struct.pack(">H", 9), b"dir/b.bin"])),
    ("remove", datagram("remove", T, [struct.pack(">H", 5), b"a.bin"])),
    ("result", datagram("result", T, [bytes([2])] + text("no such file"))),
    ("get", datagram("get", T, [struct.pack(">H", 9), b"hello.txt"])),
]

print("```native-test-vectors")
for label, parts in vectors:
    header, *body, crc = parts
    groups = [header] + [b"".join(body)] * bool(body) + [crc]
    print(label, "=>", " | ".join(" ".join(f"{b:02x}" for b in g) for g in groups))
print("```")
