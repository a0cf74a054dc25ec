import P2MPWire

/// Why a classic transfer cannot start or go on.
public enum ClassicSenderError: Error, Equatable, Sendable {
    /// The file needs more segments than 32-bit sequence numbers can name.
    case tooManySegments(needed: UInt64)
    /// The segment size is zero or does not fit a UDP datagram.
    case invalidSegmentSize(Int)
}

/// The seed protocol's sender: `SenderEngine` speaking the classic wire format.
///
/// Segment `i` carries bytes `i*segmentSize ..< min((i+1)*segmentSize, size)`; one more,
/// empty segment after the last data segment marks the end of the file. An ACK for
/// sequence `s` acknowledges segments `0...s`. Each encoded packet is built once and
/// shared by every receiver it goes to.
public struct ClassicSender<Source: SegmentSource> {
    public enum Output: Sendable {
        case datagram(receiver: Int, bytes: [UInt8])
        case timedOut(receiver: Int, sequence: UInt32)
        case completed(receiver: Int)
        case failed(receiver: Int, reason: SenderEngine.FailureReason)
    }

    public let segmentSize: Int
    /// Data segments, not counting the end marker.
    public let dataSegmentCount: UInt64
    public private(set) var engine: SenderEngine
    /// Datagrams that were not valid ACKs.
    public private(set) var ignoredDatagrams = 0
    private let source: Source
    private var actions: [SenderEngine.Action] = []
    private var lastPacket: (segment: UInt64, bytes: [UInt8])?
    private var payloadBuffer: [UInt8]

    public init(
        source: Source, segmentSize: Int, receiverCount: Int, configuration: SenderConfiguration
    ) throws(ClassicSenderError) {
        guard (1...ClassicPacket.maximumPayload).contains(segmentSize) else {
            throw .invalidSegmentSize(segmentSize)
        }
        let size = source.byteCount
        let dataSegments = size / UInt64(segmentSize) + (size % UInt64(segmentSize) == 0 ? 0 : 1)
        guard dataSegments <= UInt64(UInt32.max) else { throw .tooManySegments(needed: dataSegments + 1) }
        self.source = source
        self.segmentSize = segmentSize
        self.dataSegmentCount = dataSegments
        self.payloadBuffer = Array(repeating: 0, count: segmentSize)
        self.engine = SenderEngine(
            receiverCount: receiverCount, segmentCount: dataSegments + 1, configuration: configuration)
    }

    public var isFinished: Bool { engine.isFinished }

    public mutating func nextDeadline() -> Instant? { engine.nextDeadline() }

    public mutating func start(now: Instant, into outputs: inout [Output]) throws {
        engine.start(now: now, into: &actions)
        try translateActions(into: &outputs)
    }

    /// Handles a datagram from `receiver`; anything but a well-formed ACK is counted and dropped.
    public mutating func receive(
        _ datagram: UnsafeRawBufferPointer, from receiver: Int, now: Instant, into outputs: inout [Output]
    ) throws {
        guard case .ack(let sequence)? = try? ClassicPacket.decode(datagram) else {
            ignoredDatagrams += 1
            return
        }
        engine.handleAcknowledgement(
            from: receiver, Acknowledgement(cumulative: UInt64(sequence) + 1), now: now, into: &actions)
        try translateActions(into: &outputs)
    }

    public mutating func handleTimer(now: Instant, into outputs: inout [Output]) throws {
        engine.handleTimer(now: now, into: &actions)
        try translateActions(into: &outputs)
    }

    private mutating func translateActions(into outputs: inout [Output]) throws {
        defer { actions.removeAll(keepingCapacity: true) }
        for action in actions {
            switch action {
            case .transmit(let receiver, let segment, _):
                outputs.append(.datagram(receiver: receiver, bytes: try packet(for: segment)))
            case .timedOut(let receiver, let segment):
                outputs.append(.timedOut(receiver: receiver, sequence: UInt32(segment)))
            case .completed(let receiver):
                outputs.append(.completed(receiver: receiver))
            case .failed(let receiver, let reason):
                outputs.append(.failed(receiver: receiver, reason: reason))
            case .lossDetected:
                break  // Classic ACKs carry no SACK.
            }
        }
    }

    /// The encoded packet of `segment`, read and built once while receivers ask for it in turn.
    private mutating func packet(for segment: UInt64) throws -> [UInt8] {
        if let lastPacket, lastPacket.segment == segment { return lastPacket.bytes }
        let offset = segment * UInt64(segmentSize)
        // The end marker (segment == dataSegmentCount) is empty; its offset may lie past the end.
        let length = segment < dataSegmentCount ? Int(min(UInt64(segmentSize), source.byteCount - offset)) : 0
        let source = self.source
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ClassicPacket.headerSize + length)
        try payloadBuffer.withUnsafeMutableBytes { buffer in
            let payload = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            if length > 0 { try source.read(offset: offset, into: payload) }
            ClassicPacket.encodeData(
                sequence: UInt32(segment), payload: UnsafeRawBufferPointer(payload), into: &bytes)
        }
        lastPacket = (segment, bytes)
        return bytes
    }
}
