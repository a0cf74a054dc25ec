import Foundation
import P2MPWire
import Testing

/// An active man in the middle that changes bytes of the sealed datagrams of a session.
@Suite("Tampered ciphertext")
struct TamperTests {
    /// Flips one seeded random bit of the ciphertext or tag in every `period`-th SEALED
    /// datagram of each direction, and counts what it changed.
    final class BitFlipper: @unchecked Sendable {
        private let lock = NSLock()
        private let period: Int
        private var random: TestRandom
        private var seen: [UDPRelay.Direction: Int] = [:]
        private(set) var flipped: [UDPRelay.Direction: Int] = [:]

        init(period: Int, random: TestRandom) {
            self.period = period
            self.random = random
        }

        func tamper(_ direction: UDPRelay.Direction, _ datagram: inout [UInt8]) {
            // The clear header (type, session, counter) is left alone: a flip there is a
            // datagram for another session or counter, which is not what this test is about.
            let header = datagram.withUnsafeBytes { try? SecureDatagram.peekHeader($0) }
            guard header?.type == .sealed, datagram.count > SecureDatagram.sealedHeaderSize else { return }
            lock.withLock {
                let count = (seen[direction] ?? 0) + 1
                seen[direction] = count
                guard count % period == 0 else { return }
                let bit = Int.random(in: SecureDatagram.sealedHeaderSize * 8..<datagram.count * 8, using: &random)
                datagram[bit / 8] ^= UInt8(1 << (bit % 8))
                flipped[direction, default: 0] += 1
            }
        }

        func count(_ direction: UDPRelay.Direction) -> Int { lock.withLock { flipped[direction] ?? 0 } }
    }

    @Test("a relay flips bits in sealed datagrams both ways: each is dropped and counted, the file arrives intact")
    func bitFlips() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let daemon = try await Daemon.trusting([alice.trusted()], address: "127.0.14.20", in: directory)
        let flipper = BitFlipper(period: 16, random: TestRandom("tamper"))
        let relay = try UDPRelay(address: "127.0.14.21", to: daemon) { flipper.tamper($0, &$1) }
        let input = directory.appendingPathComponent("f.bin")
        try Harness.randomFile(at: input, bytes: 2 << 20)
        let push = try await ChildProcess.run(
            "p2mpsend", ["push", "f.bin", relay.target, "--accept-new-host-keys"] + alice.identity, in: directory, timeout: 120)
        relay.stop()
        #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
        #expect(try Data(contentsOf: daemon.file("f.bin")) == Data(contentsOf: input))
        #expect(daemon.spoolNames() == ["f.bin"])
        #expect(await daemon.stop() == 0)
        // Every flipped datagram that reached the daemon failed its tag; nothing else did.
        let forged = try #require(daemon.stopCounter("forged"), "\(daemon.child.stderrLines.suffix(1))")
        #expect(flipper.count(.toDaemon) > 0 && flipper.count(.toClient) > 0)
        #expect(forged > 0 && forged <= flipper.count(.toDaemon), "\(forged) counted, \(flipper.count(.toDaemon)) flipped")
        #expect(daemon.stopCounter("replayed") == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
