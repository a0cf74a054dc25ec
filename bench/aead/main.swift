// Seal and open throughput of the AEADs a session could use, through P2MPSecurity's own
// code path (TrafficKey, swift-crypto underneath), on this machine's CPU. Times are the
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time, so other work on a shared
// machine does not inflate them. One run prints a markdown table; docs/SECURITY.md and
// docs/PERFORMANCE.md quote it. Bounded: each case processes `P2MP_AEAD_BENCH_MIB` MiB
// (default 512, at most a million datagrams) and stops.
//
//     swift build -c release --product p2mp-aead-bench && .build/release/p2mp-aead-bench
#if canImport(Glibc)
import Glibc
#endif
@preconcurrency import Crypto
import P2MPSecurity

let mebibytes = Int(getenv("P2MP_AEAD_BENCH_MIB").map { String(cString: $0) } ?? "") ?? 512
// Plaintexts: a native DATA datagram (payload + 28 bytes) at the 1,400-byte default, at
// loopback's 8,944 bytes, at the largest payload; and a 64-byte ACK.
let sizes = [64, 1_400 + 28, 8_944 + 28, 65_000 + 28]

/// CPU time the calling thread spends in `body`.
func measure(_ body: () -> Void) -> Duration {
    func now() -> Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }
    let start = now()
    body()
    return now() - start
}
let keyBytes = (0..<32).map { UInt8($0) }
let iv = (0..<12).map { UInt8(0xA0 + $0) }
let header = [UInt8](repeating: 0x50, count: 20)

print("| AEAD | plaintext bytes | seal MB/s | open MB/s | seal ns/datagram | open ns/datagram |")
print("|---|--:|--:|--:|--:|--:|")
for cipher in PacketCipher.allCases {
    let key = TrafficKey(cipher: cipher, keyBytes: keyBytes, iv: iv)
    for size in sizes {
        let count = min(1_000_000, max(1_000, mebibytes << 20 / size))
        let plaintext = [UInt8](repeating: 0x5A, count: size)
        var sealed = [UInt8](repeating: 0, count: size + 16)
        var opened = [UInt8](repeating: 0, count: size)
        var check = 0
        let sealTime = measure {
            for counter in 0..<UInt64(count) {
                check &+= plaintext.withUnsafeBytes { plaintext in
                    header.withUnsafeBytes { header in
                        sealed.withUnsafeMutableBytes {
                            key.seal(plaintext, counter: counter, authenticating: header, into: $0)
                        }
                    }
                }
            }
        }
        // Open the last sealed datagram repeatedly: the cost does not depend on the bytes.
        let lastCounter = UInt64(count - 1)
        let openTime = measure {
            for _ in 0..<count {
                let size = sealed.withUnsafeBytes { sealed in
                    header.withUnsafeBytes { header in
                        opened.withUnsafeMutableBytes {
                            key.open(sealed, counter: lastCounter, authenticating: header, into: $0)
                        }
                    }
                }
                guard let size else { fatalError("\(cipher): a datagram it sealed did not open") }
                check &+= size
            }
        }
        precondition(opened == plaintext && check > 0, "\(cipher): round trip changed the bytes")
        func rate(_ time: Duration) -> String {
            let seconds = Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18
            return String(Int((Double(size * count) / seconds / 1e6).rounded()))
        }
        func perDatagram(_ time: Duration) -> String {
            let nanoseconds = Double(time.components.seconds) * 1e9 + Double(time.components.attoseconds) / 1e9
            return String(Int((nanoseconds / Double(count)).rounded()))
        }
        print("| \(cipher) | \(size) | \(rate(sealTime)) | \(rate(openTime)) | \(perDatagram(sealTime)) | \(perDatagram(openTime)) |")
    }
}

// One whole handshake, both sides in this thread (X25519 twice each, Ed25519 sign and verify
// each, the key schedule): what a responder spends per initiator that echoed its cookie.
struct BenchPeer: HandshakePeer {
    var cookieBytes: [UInt8] { [127, 0, 0, 1, 0x1E, 0x37] }
}
let identity = Curve25519.Signing.PrivateKey()
let host = Curve25519.Signing.PrivateKey()
let trusted = TrustedSenders([IdentityKey(identity.publicKey): SenderGrant(rights: .default)])
var responder = HandshakeResponder<BenchPeer, SystemRandomNumberGenerator>(
    identity: host, trustedSenders: trusted, random: SystemRandomNumberGenerator(), now: .zero)
var system = SystemRandomNumberGenerator()
let handshakes = 2_000
var buffer = [UInt8](repeating: 0, count: 512)
var established = 0
let handshakeTime = measure {
    for index in 0..<handshakes {
        // 100 ms apart: each completed handshake lingers 10 s, so at most 100 are held, below
        // the cookie threshold.
        let now = Duration.milliseconds(100 * index)
        var initiator = HandshakeInitiator(
            identity: identity, hostKey: .pinned(IdentityKey(host.publicKey)), random: &system, now: now)
        while !initiator.isFinished {
            while let size = buffer.withUnsafeMutableBytes({ initiator.pollTransmit(into: $0) }) {
                buffer.withUnsafeBytes { responder.handle(UnsafeRawBufferPointer(rebasing: $0[..<size]), from: BenchPeer(), now: now) }
            }
            while let (_, size) = buffer.withUnsafeMutableBytes({ responder.pollTransmit(into: $0) }) {
                buffer.withUnsafeBytes { initiator.handle(UnsafeRawBufferPointer(rebasing: $0[..<size]), now: now) }
            }
        }
        if case .established = initiator.pollEvent() { established += 1 }
        while responder.pollEvent() != nil {}
        responder.handleTimeout(now: now)
    }
}
precondition(established == handshakes, "a benchmark handshake failed")
let microseconds = Double(handshakeTime.components.seconds) * 1e6 + Double(handshakeTime.components.attoseconds) / 1e12
print("")
print("| handshake, both sides | µs CPU each |")
print("|---|--:|")
print("| INITIATE…DONE | \(Int((microseconds / Double(handshakes)).rounded())) |")
