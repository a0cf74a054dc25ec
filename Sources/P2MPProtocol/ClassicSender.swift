import DequeModule
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
/// sequence `s` acknowledges segments `0...s`. Each packet is encoded once and copied to
/// every receiver it goes to.
///
/// The machine contract of `NativeSender` (docs/ARCHITECTURE.md): `handle`,
/// `handleTimeout`, then `pollTransmit` and `pollEvent` until both are empty; the file's
/// bytes come from the application through `.payloadNeeded` and `supplyPayload`.
public struct ClassicSender: Sendable {
    public enum Event: Equatable, Sendable {
        case timedOut(receiver: Int, sequence: UInt32)
        case completed(receiver: Int)
        case failed(receiver: Int, reason: SenderEngine.FailureReason)
        /// Segments wait for these bytes of the file: read them and call `supplyPayload`.
        case payloadNeeded(PayloadBlock)
    }

    /// A datagram `pollTransmit` wrote.
    public struct Transmit: Equatable, Sendable {
        public var receiver: Int
        public var size: Int
    }

    public let segmentSize: Int
    public let byteCount: UInt64
    /// Data segments, not counting the end marker.
    public let dataSegmentCount: UInt64
    public private(set) var engine: SenderEngine
    /// Datagrams that were not valid ACKs.
    public private(set) var ignoredDatagrams = 0
    private var actions: [SenderEngine.Action] = []
    private var events = Deque<Event>()
    private var transmissions = Deque<(receiver: Int, segment: UInt64)>()
    private var payload: PayloadStore
    /// The packet of one segment (`encodedSegment`), encoded once while receivers ask for
    /// it in turn; the array's storage is reused from segment to segment.
    private var encodedSegment: UInt64?
    private var encodedBytes: [UInt8] = []

    public init(
        byteCount: UInt64, segmentSize: Int, receiverCount: Int, configuration: SenderConfiguration
    ) throws(ClassicSenderError) {
        guard (1...ClassicPacket.maximumPayload).contains(segmentSize) else {
            throw .invalidSegmentSize(segmentSize)
        }
        let dataSegments = byteCount.dividedRoundingUp(by: UInt64(segmentSize))
        guard dataSegments <= UInt64(UInt32.max) else { throw .tooManySegments(needed: dataSegments + 1) }
        self.byteCount = byteCount
        self.segmentSize = segmentSize
        self.dataSegmentCount = dataSegments
        payload = PayloadStore(fileSize: byteCount, segmentSize: segmentSize)
        engine = SenderEngine(receiverCount: receiverCount, segmentCount: dataSegments + 1, configuration: configuration)
    }

    public var isFinished: Bool { engine.isFinished }

    /// When `handleTimeout` next has work.
    public var nextTimeout: Instant? { engine.nextTimeout }

    public mutating func start(now: Instant) {
        engine.start(now: now, into: &actions)
        takeEngineActions()
    }

    /// Handles a datagram from `receiver`; anything but a well-formed ACK is counted and dropped.
    public mutating func handle(_ datagram: UnsafeRawBufferPointer, from receiver: Int, now: Instant) {
        guard case .ack(let sequence)? = try? ClassicPacket.decode(datagram) else {
            ignoredDatagrams += 1
            return
        }
        engine.handleAcknowledgement(
            from: receiver, Acknowledgement(cumulative: UInt64(sequence) + 1), now: now, into: &actions)
        takeEngineActions()
    }

    public mutating func handleTimeout(now: Instant) {
        engine.handleTimeout(now: now, into: &actions)
        takeEngineActions()
    }

    /// The next event for the application, if any.
    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// Whether `pollEvent` has something (`peekTransmit` may have asked for payload).
    public var hasEvents: Bool { !events.isEmpty }

    /// The datagram `pollTransmit` would write next, or nil when there is none or its
    /// segment waits for payload (then `.payloadNeeded` is among the events).
    public mutating func peekTransmit() -> Transmit? {
        guard let next = transmissions.first, encode(next.segment) else { return nil }
        return Transmit(receiver: next.receiver, size: encodedBytes.count)
    }

    /// Writes the next datagram at the start of `buffer` (at least the size `peekTransmit`
    /// announced, checked); nil when there is nothing to send now.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        guard let next = transmissions.first, encode(next.segment) else { return nil }
        transmissions.removeFirst()
        precondition(buffer.count >= encodedBytes.count, "transmit buffer smaller than the packet")
        encodedBytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return Transmit(receiver: next.receiver, size: encodedBytes.count)
    }

    /// Hands in the bytes of a block asked for with `.payloadNeeded`: `fill` writes its
    /// `block.length` bytes into the machine's buffer. An error `fill` throws (the file
    /// shrank or vanished) ends the transfer: it is rethrown, and the caller stops.
    public mutating func supplyPayload(
        _ block: PayloadBlock, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows {
        _ = try payload.supply(block, fill: fill)
    }

    // MARK: - Internals

    /// Makes `encoded` hold `segment`'s packet; false while its payload is not supplied.
    private mutating func encode(_ segment: UInt64) -> Bool {
        if encodedSegment == segment { return true }
        // The end marker (segment == dataSegmentCount) is empty.
        let length = segment < dataSegmentCount ? Int(min(UInt64(segmentSize), byteCount - segment * UInt64(segmentSize))) : 0
        encodedSegment = nil
        encodedBytes.removeAll(keepingCapacity: true)
        if length == 0 {
            ClassicPacket.encodeData(
                sequence: UInt32(segment), payload: UnsafeRawBufferPointer(start: nil, count: 0), into: &encodedBytes)
        } else {
            var bytes = encodedBytes
            encodedBytes = []
            let done: Void? = payload.withSegment(segment, length: length) { payload in
                ClassicPacket.encodeData(sequence: UInt32(segment), payload: payload, into: &bytes)
            }
            encodedBytes = bytes
            guard done != nil else {
                let block = payload.blockIndex(ofSegment: segment)
                if payload.request(block) { events.append(.payloadNeeded(payload.block(block))) }
                return false
            }
        }
        encodedSegment = segment
        return true
    }

    private mutating func takeEngineActions() {
        for action in actions {
            switch action {
            case .transmit(let receiver, let segment, _):
                transmissions.append((receiver, segment))
            case .timedOut(let receiver, let segment):
                events.append(.timedOut(receiver: receiver, sequence: UInt32(segment)))
            case .completed(let receiver):
                events.append(.completed(receiver: receiver))
            case .failed(let receiver, let reason):
                events.append(.failed(receiver: receiver, reason: reason))
            case .lossDetected:
                break  // Classic ACKs carry no SACK.
            }
        }
        actions.removeAll(keepingCapacity: true)
    }
}
