import NIOCore
import NIOPosix
import P2MPProtocol
import Testing

@testable import P2MPTransport

#if canImport(Glibc)
import Glibc
#endif

/// Sends a planned series of datagrams to its own socket through `sendDatagram` and
/// collects what arrives, until everything did or a deadline passes.
final class LoopbackEcho: DatagramApplication {
    struct Outcome: Sendable {
        var received: [[UInt8]]
        var segmentedSends: Int
        var receiveBufferBytes: Int
    }

    private let planned: [[UInt8]]
    private let oneByOne: Bool
    private var received: [[UInt8]] = []
    private var segmentedSends = 0

    init(planned: [[UInt8]], oneByOne: Bool) {
        self.planned = planned
        self.oneByOne = oneByOne
    }

    func start(io: DatagramIO<Outcome>) {
        if oneByOne { io.segmentsInOneSend = false }
        let me = io.localAddresses[0]
        for datagram in planned {
            io.sendDatagram(size: datagram.count, to: me) { destination in
                destination.copyBytes(from: datagram)
                return datagram.count
            }
        }
        io.flush()
        segmentedSends = io.segmentedSends
        io.setTimer(io.now + .seconds(10))
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        received.append(Array(datagram.readableBytesView))
        if received.count == planned.count { io.finish(Outcome(received: received, segmentedSends: segmentedSends, receiveBufferBytes: io.receiveBufferBytes)) }
    }

    func timerFired(io: DatagramIO<Outcome>) {
        io.finish(Outcome(received: received, segmentedSends: segmentedSends, receiveBufferBytes: io.receiveBufferBytes))
    }
}

@Suite("Datagrams coalesced into segmented sends")
struct SegmentedSendTests {
    /// 150 datagrams of 1,000 bytes (more than two full batches), a short one that must
    /// close its batch, 20 of another size, and a short last one; each with its own content.
    static let planned: [[UInt8]] = {
        var sizes = Array(repeating: 1_000, count: 150) + [300] + Array(repeating: 1_400, count: 20) + [7]
        sizes.insert(999, at: 70)
        return sizes.enumerated().map { index, size in
            (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        }
    }()

    static func run(oneByOne: Bool, over loopback: String) async throws -> LoopbackEcho.Outcome {
        let address = try SocketAddress(ipAddress: loopback, port: 0)
        return try await DatagramRunner.run(bindingTo: [address], on: MultiThreadedEventLoopGroup.singleton.next()) {
            LoopbackEcho(planned: planned, oneByOne: oneByOne)
        }
    }

    @Test(
        "every datagram arrives whole and separate, in order, through as few sends as the kernel allows",
        arguments: ["127.0.0.1", "::1"])
    func coalesced(loopback: String) async throws {
        let outcome = try await Self.run(oneByOne: false, over: loopback)
        #expect(outcome.received.map(\.count) == Self.planned.map(\.count))
        #expect(outcome.received.elementsEqual(Self.planned), "contents differ")
        if geteuid() == 0 {
            // Privileged: SO_RCVBUFFORCE grants the whole request (Linux reports it doubled).
            #expect(outcome.receiveBufferBytes >= DatagramRunner.socketBufferBytes)
        } else {
            #expect(outcome.receiveBufferBytes > 0)
        }
        if System.supportsUDPSegmentationOffload {
            // 64 × 1,000 | 6 × 1,000 + 999 (short: it ends the batch) | 64 × 1,000 |
            // 16 × 1,000 + 300 | 20 × 1,400 + 7: the boundaries the rules impose, no more.
            #expect(outcome.segmentedSends == 5)
        } else {
            #expect(outcome.segmentedSends == 0)
        }
    }

    @Test("without kernel segmentation the same datagrams leave one by one, unchanged", arguments: ["127.0.0.1", "::1"])
    func oneByOne(loopback: String) async throws {
        let outcome = try await Self.run(oneByOne: true, over: loopback)
        #expect(outcome.received.map(\.count) == Self.planned.map(\.count))
        #expect(outcome.received.elementsEqual(Self.planned), "contents differ")
        #expect(outcome.segmentedSends == 0)
    }

    @Test("a batch takes datagrams of its size for its address, up to 64 and one maximal UDP payload")
    func batchRules() throws {
        let here = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        let there = try SocketAddress(ipAddress: "127.0.0.1", port: 2)
        var batch = SegmentBatch(address: here, segmentSize: 1_000, buffer: ByteBufferAllocator().buffer(capacity: 0))
        #expect(batch.accepts(size: 1_000, for: here))
        #expect(batch.accepts(size: 10, for: here))
        #expect(!batch.accepts(size: 1_001, for: here))
        #expect(!batch.accepts(size: 1_000, for: there))
        for _ in 0..<64 { batch.append(size: 1_000) { $0.count >= 1_000 ? 1_000 : 0 } }
        #expect(!batch.accepts(size: 1_000, for: here))

        var large = SegmentBatch(address: here, segmentSize: 30_000, buffer: ByteBufferAllocator().buffer(capacity: 0))
        large.append(size: 30_000) { _ in 30_000 }
        large.append(size: 30_000) { _ in 30_000 }
        #expect(!large.accepts(size: 30_000, for: here))
        #expect(large.accepts(size: 5_000, for: here))
        large.append(size: 5_000) { _ in 5_000 }
        #expect(!large.accepts(size: 1, for: here))
        #expect(SegmentBatch.capacity(forSegmentSize: 1_438) == 45 * 1_438)
        #expect(SegmentBatch.capacity(forSegmentSize: 65_000) == 65_000)
    }
}
