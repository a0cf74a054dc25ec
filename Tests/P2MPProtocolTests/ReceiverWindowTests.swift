import P2MPProtocol
import P2MPSimulation
import P2MPWire
import Testing

/// The window a receiver grants in its ACCEPT: the smallest of its own limit in segments,
/// the sender's, and its limit in bytes divided by the offer's segment size.
@Suite("Receiver window")
struct ReceiverWindowTests {
    typealias Endpoint = NativeReceiverEndpoint<Int>

    /// The window of the ACCEPT answering an offer of `segmentSize`-byte segments that asks
    /// for `requested`.
    func grantedWindow(_ configuration: Endpoint.Configuration, segmentSize: UInt32, requested: UInt32) throws -> UInt32 {
        var endpoint = Endpoint(configuration: configuration)
        let offer = NativeOffer(
            segmentSize: segmentSize, fileSize: 1 << 30, sha256: .zero, window: requested, flags: [], name: "a.bin")
        var bytes: [UInt8] = []
        NativeDatagram(transferID: 42, packet: .offer(offer)).encode(into: &bytes)
        bytes.withUnsafeBytes { endpoint.handle($0, from: 1, now: .zero) }
        let event = endpoint.pollEvent()
        guard case .offered(42, 1, offer) = event else {
            Issue.record("no offer event: \(String(describing: event))")
            return 0
        }
        endpoint.admit(42, resumeFrom: 0, alreadyComplete: false, now: .zero)
        var buffer = [UInt8](repeating: 0, count: Endpoint.maximumTransmitSize)
        while let transmit = buffer.withUnsafeMutableBytes({ endpoint.pollTransmit(into: $0) }) {
            #expect(transmit.peer == 1)
            let datagram = try buffer.withUnsafeBytes { try NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: $0[0..<transmit.size])) }
            if case .accept(let accept) = datagram.packet { return accept.window }
        }
        Issue.record("no ACCEPT")
        return 0
    }

    @Test("the byte limit caps large segments, not small ones")
    func byteLimit() throws {
        let configuration = Endpoint.Configuration(window: 4_096, windowBytes: 10 << 20)
        #expect(try grantedWindow(configuration, segmentSize: 8_944, requested: 4_096) == UInt32((10 << 20) / 8_944))
        #expect(try grantedWindow(configuration, segmentSize: 1_400, requested: 4_096) == 4_096)
    }

    @Test("the sender's window and the segment limit still apply, and the window is never zero")
    func otherLimits() throws {
        #expect(try grantedWindow(.init(window: 4_096, windowBytes: .max), segmentSize: 8_944, requested: 100) == 100)
        #expect(try grantedWindow(.init(window: 64, windowBytes: .max), segmentSize: 8_944, requested: 4_096) == 64)
        #expect(try grantedWindow(.init(window: 4_096, windowBytes: 1_000), segmentSize: 8_944, requested: 4_096) == 1)
    }

    @Test("with more than 16 runs held, the ACK reports the lowest 8 and the highest 8, ascending")
    func sackSelection() {
        var window = NativeReceiveWindow(segmentSize: 1, fileSize: 1_000, window: 1_000, resumeFrom: 0)
        // Segment 0 missing; every even segment from 2 to 60 held: 30 runs of one segment.
        for segment in stride(from: UInt64(2), through: 60, by: 2) {
            _ = window.receive(segment: segment, length: 1, timestamp: 0)
        }
        let ranges = Array(window.acknowledgement().selective)
        let low = stride(from: UInt64(2), through: 16, by: 2).map { $0..<$0 + 1 }
        let high = stride(from: UInt64(46), through: 60, by: 2).map { $0..<$0 + 1 }
        #expect(ranges == low + high)
        // With 16 runs or fewer, all of them.
        var few = NativeReceiveWindow(segmentSize: 1, fileSize: 1_000, window: 1_000, resumeFrom: 0)
        for segment in stride(from: UInt64(2), through: 32, by: 2) {
            _ = few.receive(segment: segment, length: 1, timestamp: 0)
        }
        #expect(Array(few.acknowledgement().selective) == stride(from: UInt64(2), through: 32, by: 2).map { $0..<$0 + 1 })
    }
}
