"""The native v1 datagrams the soak and the benchmarks send by hand (docs/PROTOCOL.md):
header, body, CRC-32C. For the test scripts; the independent reference encoders of the
documented vectors (native_vectors.py, secure_vectors.py) keep their own on purpose."""
import struct

TYPES = {"offer": 1, "accept": 2, "reject": 3, "data": 4, "ack": 5, "complete": 6, "probe": 7, "abort": 8,
         "list": 9, "listing": 10, "move": 11, "remove": 12, "result": 13, "get": 14}


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def native(kind, transfer: int, body: bytes, version: int = 1) -> bytes:
    """A native v1 datagram: header (version 1 unless said), body, CRC-32C of both."""
    kind = TYPES[kind] if isinstance(kind, str) else kind
    head = b"P2" + bytes([version, kind]) + struct.pack(">Q", transfer)
    return head + body + struct.pack(">I", crc32c(head + body))


def offer_body(segment: int, size: int, digest: bytes, window: int, flags: int, name: bytes) -> bytes:
    return struct.pack(">IQ", segment, size) + digest + struct.pack(">IIH", window, flags, len(name)) + name
