#!/usr/bin/env python3
"""Independent reference for the p2mp secure-envelope test vectors (docs/PROTOCOL.md).

Written from the "Secure envelope" section of docs/PROTOCOL.md and RFC 8446/5869, not from
the Swift code: X25519, Ed25519, HMAC-SHA256 and the AEAD come from Python's
`cryptography` package, HKDF-Extract/Expand-Label and the transcript are spelled out here.
Fixed keys stand in for every random draw, so each run prints the same block:

    python3 scripts/secure_vectors.py [aes-256-gcm|chacha20-poly1305]
"""
import base64
import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CIPHER = sys.argv[1] if len(sys.argv) > 1 else "aes-256-gcm"
AEAD = {"aes-256-gcm": AESGCM, "chacha20-poly1305": ChaCha20Poly1305}[CIPHER]
TYPES = {"initiate": 1, "retry": 2, "response": 3, "confirm": 4, "done": 5, "sealed": 6}


def raw(public_key) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def header(kind: str, session: int) -> bytes:
    return b"P2" + bytes([2, TYPES[kind]]) + struct.pack(">Q", session)


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _check_hkdf():
    # The hand-written HKDF agrees with the library's on RFC 5869's first test case.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
    prk = hkdf_extract(bytes(range(13)), bytes([0x0B] * 22))
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    info = bytes(range(0xF0, 0xFA))
    assert hkdf_expand(prk, info, 42) == HKDFExpand(hashes.SHA256(), 42, info).derive(prk)


_check_hkdf()


def expand_label(secret: bytes, label: str, context: bytes, length: int) -> bytes:
    full = b"p2mp1 " + label.encode()
    info = struct.pack(">H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    return hkdf_expand(secret, info, length)


def derive_secret(secret: bytes, label: str, transcript: bytes) -> bytes:
    return expand_label(secret, label, hashlib.sha256(transcript).digest(), 32)


def traffic(secret: bytes):
    return expand_label(secret, "key", b"", 32), expand_label(secret, "iv", b"", 12)


def nonce(iv: bytes, counter: int) -> bytes:
    return bytes(a ^ b for a, b in zip(iv, b"\0\0\0\0" + struct.pack(">Q", counter)))


def seal(secret: bytes, counter: int, clear: bytes, plaintext: bytes) -> bytes:
    key, iv = traffic(secret)
    return clear + AEAD(key).encrypt(nonce(iv, counter), plaintext, clear)


def signed_content(context: str, transcript: bytes) -> bytes:
    return b" " * 64 + context.encode() + b"\0" + hashlib.sha256(transcript).digest()


def finished(secret: bytes, transcript: bytes) -> bytes:
    key = expand_label(secret, "finished", b"", 32)
    return hmac.new(key, hashlib.sha256(transcript).digest(), hashlib.sha256).digest()


# Every "random" value of the handshake, fixed.
initiator_identity = Ed25519PrivateKey.from_private_bytes(bytes(range(0x01, 0x21)))
responder_identity = Ed25519PrivateKey.from_private_bytes(bytes(range(0x21, 0x41)))
initiator_ephemeral = X25519PrivateKey.from_private_bytes(bytes(range(0x41, 0x61)))
responder_ephemeral = X25519PrivateKey.from_private_bytes(bytes(range(0x61, 0x81)))
initiator_session, responder_session = 0x0123456789ABCDEF, 0xFEDCBA9876543210
cookie_secret = bytes(range(0x81, 0xA1))
address = bytes([127, 0, 0, 1, 0x1E, 0x37])  # 127.0.0.1 port 7735, as the test peer encodes it

lines = []


def vector(label: str, data: bytes):
    lines.append(f"{label} => {data.hex(' ')}")


e_i = raw(initiator_ephemeral.public_key())
initiate = header("initiate", initiator_session) + e_i + b"\0" + bytes(16)
initiate += bytes(256 - len(initiate))
vector("initiate", initiate)

cookie_input = bytes([len(address)]) + address + struct.pack(">Q", initiator_session) + e_i
cookie = hmac.new(cookie_secret, cookie_input, hashlib.sha256).digest()[:16]
vector("retry", header("retry", initiator_session) + cookie)
initiate_with_cookie = header("initiate", initiator_session) + e_i + b"\1" + cookie
initiate_with_cookie += bytes(256 - len(initiate_with_cookie))
vector("initiate-with-cookie", initiate_with_cookie)

# The handshake below answers the INITIATE without a cookie.
e_r = raw(responder_ephemeral.public_key())
response_clear = header("response", initiator_session) + struct.pack(">Q", responder_session) + e_r
shared = responder_ephemeral.exchange(X25519PublicKey.from_public_bytes(e_i))
assert shared == initiator_ephemeral.exchange(X25519PublicKey.from_public_bytes(e_r))
early = hkdf_extract(bytes(32), bytes(32))
handshake_secret = hkdf_extract(derive_secret(early, "derived", b""), shared)
t = initiate + response_clear
i_hs = derive_secret(handshake_secret, "i hs traffic", t)
r_hs = derive_secret(handshake_secret, "r hs traffic", t)
vector("secret-handshake", handshake_secret)
vector("secret-i-hs-traffic", i_hs)
vector("secret-r-hs-traffic", r_hs)

responder_key = raw(responder_identity.public_key())
t += responder_key
responder_signature = responder_identity.sign(signed_content("p2mp1 responder signature", t))
t += responder_signature
responder_finished = finished(r_hs, t)
t += responder_finished
response = seal(r_hs, 0, response_clear, responder_key + responder_signature + responder_finished)
vector("response", response)

master = hkdf_extract(derive_secret(handshake_secret, "derived", b""), bytes(32))
i_ap = derive_secret(master, "i ap traffic", t)
r_ap = derive_secret(master, "r ap traffic", t)
vector("secret-master", master)
vector("secret-i-ap-traffic", i_ap)
vector("secret-r-ap-traffic", r_ap)
vector("key-i-ap", traffic(i_ap)[0])
vector("iv-i-ap", traffic(i_ap)[1])

initiator_key = raw(initiator_identity.public_key())
t += initiator_key
initiator_signature = initiator_identity.sign(signed_content("p2mp1 initiator signature", t))
t += initiator_signature
initiator_finished = finished(i_hs, t)
confirm = seal(i_hs, 0, header("confirm", responder_session), initiator_key + initiator_signature + initiator_finished)
vector("confirm", confirm)

vector("done-accepted", seal(r_hs, 1, header("done", initiator_session), bytes([0, 3, 0])))
fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(initiator_key).digest()).decode().rstrip("=")
vector("fingerprint-initiator", fingerprint.encode())
refusal = f"key {fingerprint} is not trusted by this host".encode()
vector("done-refused", seal(r_hs, 1, header("done", initiator_session), bytes([1, 0, len(refusal)]) + refusal))

# First sealed datagram each way: a native v1 PROBE for transfer 1, then "hello".
probe = bytes.fromhex("50 32 01 07 00 00 00 00 00 00 00 01")
probe += struct.pack(">I", 0)  # placeholder, replaced by the CRC below


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


probe = probe[:12] + struct.pack(">I", crc32c(probe[:12]))
vector("sealed-initiator-0", seal(i_ap, 0, header("sealed", responder_session) + struct.pack(">Q", 0), probe))
vector("sealed-responder-0", seal(r_ap, 0, header("sealed", initiator_session) + struct.pack(">Q", 0), b"hello"))
vector("sealed-initiator-7", seal(i_ap, 7, header("sealed", responder_session) + struct.pack(">Q", 7), b"hello"))

print(f"```secure-test-vectors {CIPHER}")
print("\n".join(lines))
print("```")
