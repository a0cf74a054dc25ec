import Crypto
import Foundation
import NIOCore
import P2MPProtocol
import P2MPSpool
import P2MPWire
import Testing

@testable import P2MPDaemon

/// The daemon's side of one transfer: coalesced writes handed to `ReceiveStorage`'s queue,
/// the SHA-256 that follows the contiguous prefix, and the prefix recorded for a resume.
@Suite("Receive sessions and their storage queue")
struct ReceiveSessionTests {
    static let segmentSize = 8_000
    let peer = DaemonPeer(address: try! SocketAddress(ipAddress: "192.0.2.7", port: 5000))

    /// Content of `count` bytes that differs at every offset a test might mix up.
    static func content(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = seed
        return (0..<count).map { _ in
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: generator >> 33)
        }
    }

    static func digest(_ bytes: [UInt8]) -> ContentDigest {
        ContentDigest(Array(SHA256.hash(data: bytes)))!
    }

    func withSpool(_ body: (Spool) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-session-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try body(try Spool(root: root.path))
    }

    func session(for bytes: [UInt8], in spool: Spool, digest: ContentDigest? = nil) throws -> ReceiveSession {
        let offer = NativeOffer(
            segmentSize: UInt32(Self.segmentSize), fileSize: UInt64(bytes.count), sha256: digest ?? Self.digest(bytes),
            window: 64, flags: [], name: "image.bin")
        let key = try #require(ContentKey(sha256: Self.digest(bytes).bytes, size: UInt64(bytes.count)))
        return ReceiveSession(
            transferID: 7, peer: peer, grant: PeerGrant(rights: [.push]), offer: offer, name: try SpoolName(validating: "image.bin"), replacing: false,
            partial: SpoolPartial(try spool.openPartial(for: key), recordInterval: ReceiveSession.recordInterval), startedAt: 0)
    }

    /// Stores `segments` of `bytes` in the given order, with the contiguous prefix the
    /// protocol endpoint would report after each.
    func store(_ segments: [Int], of bytes: [UInt8], into session: ReceiveSession, alreadyHeld: Int = 0) throws {
        var held = Set(0..<alreadyHeld)
        var firstMissing = alreadyHeld
        for segment in segments {
            held.insert(segment)
            while held.contains(firstMissing) { firstMissing += 1 }
            let start = segment * Self.segmentSize
            let end = min(start + Self.segmentSize, bytes.count)
            try bytes[start..<end].withUnsafeBytes { payload in
                try session.store(
                    payload, at: UInt64(start), contiguous: UInt64(min(firstMissing * Self.segmentSize, bytes.count)))
            }
        }
    }

    func segmentCount(_ bytes: [UInt8]) -> Int { (bytes.count + Self.segmentSize - 1) / Self.segmentSize }

    @Test("segments in random order are written where they belong and hashed once contiguous")
    func outOfOrder() throws {
        let bytes = Self.content(3 << 20 + 1_234)
        try withSpool { spool in
            let session = try session(for: bytes, in: spool)
            var order = Array(0..<segmentCount(bytes))
            var random = SeededRandom(seed: 11)
            order.shuffle(using: &random)
            try store(order, of: bytes, into: session)
            let digest = try session.verify()
            #expect(digest == Self.digest(bytes))
            #expect(session.bytesWritten == UInt64(bytes.count))
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: (session.partial as? SpoolPartial)?.file.path ?? ""))) == bytes)
        }
    }

    @Test("a digest that differs from the offer's is reported, not committed")
    func mismatch() throws {
        let bytes = Self.content(100_000)
        try withSpool { spool in
            let wrong = Self.digest(Self.content(100_000, seed: 2))
            let session = try session(for: bytes, in: spool, digest: wrong)
            try store(Array(0..<segmentCount(bytes)), of: bytes, into: session)
            #expect(try session.verify() == nil)
        }
    }

    @Test("a transfer that ends early records exactly what it holds, and a new session resumes there")
    func resume() throws {
        let bytes = Self.content(Int(ReceiveSession.recordInterval) * 2 + 50_000)
        let received = segmentCount(bytes) / 2 + 3
        try withSpool { spool in
            let recorded: UInt64
            do {
                let first = try session(for: bytes, in: spool)
                try store(Array(0..<received), of: bytes, into: first)
                try first.close()
                #expect(first.partial.verifiedBytes == UInt64(received * Self.segmentSize))
                try first.close()  // A second close changes nothing.
                recorded = first.partial.verifiedBytes
            }  // The first session is gone and its partial closed, so it can be opened again.
            let second = try session(for: bytes, in: spool)
            #expect(second.resumedBytes == recorded)
            try store(Array(received..<segmentCount(bytes)), of: bytes, into: second, alreadyHeld: received)
            #expect(try second.verify() == Self.digest(bytes))
            #expect(second.bytesWritten == UInt64(bytes.count) - recorded)
        }
    }

    @Test("a write the storage refuses fails the session instead of vanishing")
    func storageFailure() throws {
        let bytes = Self.content(50_000)
        try withSpool { spool in
            let session = try session(for: bytes, in: spool)
            // Beyond the end of the content: the queue's write fails with EINVAL.
            try Self.content(100).withUnsafeBytes { payload in
                try session.store(payload, at: UInt64(bytes.count) + 10, contiguous: 0)
            }
            #expect(throws: SpoolError.self) { try session.verify() }
        }
    }
}
