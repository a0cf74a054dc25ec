import Foundation
import Logging
import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSpool
import P2MPWire
import Testing

@testable import P2MPDaemon

/// Partials are capped per sender and in total, take no space before data, and an offer
/// that never sends data leaves nothing behind once its transfer ends (issue 15, item 3).
@Suite("Partial files: caps and reclaim")
struct PartialLimitTests {
    /// A daemon's receiving half on a spool of its own; loopback senders are served in clear.
    final class Receiver {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-partials-\(UUID().uuidString)")
        let spool: Spool
        let incoming: IncomingTransfers
        var buffer = [UInt8](repeating: 0, count: IncomingTransfers.Endpoint.maximumTransmitSize)

        init(maxPartials: Int, perSender: Int) throws {
            spool = try Spool(root: root.path)
            var configuration = DaemonConfiguration.defaults
            configuration.minFreeSpace = ByteSize(bytes: 0)
            configuration.maxPartials = maxPartials
            configuration.maxPartialsPerSender = perSender
            configuration.idleTimeout = .seconds(30)
            incoming = IncomingTransfers(
                configuration: configuration, storage: SpoolStorage(spool: spool), hooks: NoHooks(),
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, lossSeed: 1, wallClock: { 0 })
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        /// Offers `size` bytes of content `seed` from `address`; the reply's packet.
        func offer(seed: UInt8, size: UInt64 = 1 << 20, from address: String, id: UInt64, now: Instant = .zero) throws -> NativePacket? {
            let offer = NativeOffer(
                segmentSize: 1_000, fileSize: size, sha256: ContentDigest(words: (UInt64(seed), 0, 0, 0)), window: 64, flags: [],
                name: "file-\(seed).bin")
            var bytes: [UInt8] = []
            NativeDatagram(transferID: id, packet: .offer(offer)).encode(into: &bytes)
            let peer = DaemonPeer(address: try SocketAddress(ipAddress: address, port: 4_000))
            bytes.withUnsafeBytes { incoming.handle($0, from: peer, now: now) }
            guard let sent = buffer.withUnsafeMutableBytes({ incoming.pollTransmit(into: $0) }) else { return nil }
            return try buffer.withUnsafeBytes { try NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: $0[..<sent.size])).packet }
        }
    }

    struct NoHooks: PostReceiveHooks {
        func run(command: String, timeout: Duration, _ invocation: PostReceiveHook.Invocation) {}
    }

    static func isBusy(_ packet: NativePacket?) -> Bool {
        if case .reject(let rejection)? = packet { return rejection.reason == .busy }
        return false
    }

    static func isAccept(_ packet: NativePacket?) -> Bool {
        if case .accept? = packet { return true }
        return false
    }

    @Test("a sender may start max_partials_per_sender, all of them max_partials; none takes space before data")
    func caps() throws {
        let receiver = try Receiver(maxPartials: 5, perSender: 3)
        for seed: UInt8 in 1...3 { #expect(Self.isAccept(try receiver.offer(seed: seed, from: "127.0.0.1", id: UInt64(seed)))) }
        #expect(Self.isBusy(try receiver.offer(seed: 4, from: "127.0.0.1", id: 4)), "a fourth from the same sender")
        for seed in 5...6 { #expect(Self.isAccept(try receiver.offer(seed: UInt8(seed), from: "127.0.0.2", id: UInt64(seed)))) }
        #expect(Self.isBusy(try receiver.offer(seed: 7, from: "127.0.0.3", id: 7)), "a sixth in all")
        #expect(receiver.spool.partialCount == 5)
        for seed in 1...6 where seed != 4 {
            let content = ContentKey(sha256: ContentDigest(words: (UInt64(seed), 0, 0, 0)).bytes, size: 1 << 20)!
            #expect(receiver.spool.reservedBytes(for: content) == 0, "partial \(seed) took space before any data")
        }
        // The same content again resumes its partial and adds none, even at the caps.
        #expect(Self.isAccept(try receiver.offer(seed: 1, from: "127.0.0.1", id: 11)))
    }

    @Test("an offer that never sends data leaves no partial once its transfer ends")
    func reclaim() throws {
        let receiver = try Receiver(maxPartials: 5, perSender: 5)
        #expect(Self.isAccept(try receiver.offer(seed: 1, from: "127.0.0.1", id: 1)))
        #expect(receiver.spool.partialCount == 1)
        receiver.incoming.handleTimeout(now: .zero + .seconds(31))
        #expect(receiver.spool.partialCount == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: receiver.root.path + "/.p2mp/partial") == [])
    }
}
