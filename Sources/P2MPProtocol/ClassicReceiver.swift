import DequeModule
import P2MPWire

/// The seed protocol's receiver: in-order delivery with cumulative ACKs and simulated loss.
///
/// For each datagram, in this order: datagrams from anyone but the sender of segment 0 are
/// ignored; a data packet is discarded with the loss probability (the caller prints
/// `Packet loss, sequence number = X`); a bad checksum is dropped silently; the next
/// in-sequence segment is accepted and acknowledged; anything else re-acknowledges the
/// last in-sequence segment (nothing, before segment 0 arrived).
///
/// Segment 0 fixes the segment size: a later segment may not be longer, and after a
/// shorter one only the empty end marker may follow. A damaged or forged packet that got
/// past the 16-bit checksum can therefore stall a transfer but not lengthen the file.
///
/// The machine contract (docs/ARCHITECTURE.md): `handle` a datagram, then take its event
/// with `pollEvent` (before the next `handle`: an accepted payload is a range of that
/// datagram) and the ACK with `pollTransmit`. It keeps no timers; the sender retransmits.
public struct ClassicReceiver<Peer: Hashable & Sendable>: Sendable {
    public enum Event: Equatable, Sendable {
        /// Discarded by simulated loss.
        case discarded(sequence: UInt32)
        case ignored(IgnoreReason)
        /// Append `payload` (a range of the datagram just handled) to the file; its ACK is
        /// queued. `completesFile` is set for the end marker.
        case accepted(payload: Range<Int>, sequence: UInt32, completesFile: Bool)
        /// The last in-sequence segment is acknowledged again.
        case reacknowledged(UInt32)
    }

    /// An ACK `pollTransmit` wrote.
    public struct Transmit: Equatable, Sendable {
        public var peer: Peer
        public var size: Int
    }

    public enum IgnoreReason: Equatable, Sendable {
        case malformed(ClassicDecodingError)
        case foreignPeer
        case notData
        case beforeFirstSegment
        case oversizedSegment(length: Int)
        case dataAfterShortSegment
    }

    /// The sender, once segment 0 arrived.
    public private(set) var peer: Peer?
    /// The next in-sequence segment.
    public private(set) var expected: UInt64 = 0
    public private(set) var isComplete = false
    public private(set) var bytesAccepted: UInt64 = 0
    private var segmentSize: Int?
    private var sawShortSegment = false
    private var loss: SimulatedLoss
    private var events = Deque<Event>()
    /// The ACK to send: the latest one supersedes earlier ones (they are cumulative).
    private var pendingAck: (peer: Peer, sequence: UInt32)?

    public init(loss: SimulatedLoss) {
        self.loss = loss
    }

    /// Receivers of the seed protocol keep no timers.
    public var nextTimeout: Instant? { nil }

    /// Handles one datagram.
    public mutating func handle(_ datagram: UnsafeRawBufferPointer, from sender: Peer, now: Instant) {
        let event = judge(datagram, from: sender)
        switch event {
        case .accepted(_, let sequence, _), .reacknowledged(let sequence):
            pendingAck = (sender, sequence)
        case .discarded, .ignored:
            break
        }
        events.append(event)
    }

    /// The next event for the application, if any.
    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// The peer and size of the pending ACK, if there is one.
    public func peekTransmit() -> Transmit? {
        pendingAck.map { Transmit(peer: $0.peer, size: ClassicPacket.headerSize) }
    }

    /// Writes the pending ACK (8 bytes) at the start of `buffer`, if there is one.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        guard let ack = pendingAck else { return nil }
        pendingAck = nil
        let size = ClassicPacket.writeAck(sequence: ack.sequence, to: buffer)
        return Transmit(peer: ack.peer, size: size)
    }

    private mutating func judge(_ datagram: UnsafeRawBufferPointer, from sender: Peer) -> Event {
        if let peer, peer != sender { return .ignored(.foreignPeer) }
        guard let sequence = ClassicPacket.peekDataSequence(datagram) else {
            if datagram.count < ClassicPacket.headerSize {
                return .ignored(.malformed(.truncated(length: datagram.count)))
            }
            let type = datagram.loadBigEndianUInt16(at: 6)
            return type == ClassicPacket.ackType ? .ignored(.notData) : .ignored(.malformed(.unknownType(type)))
        }
        if loss.shouldDiscard() { return .discarded(sequence: sequence) }
        let payload: Range<Int>
        do {
            guard case .data(_, let range) = try ClassicPacket.decode(datagram) else { return .ignored(.notData) }
            payload = range
        } catch {
            return .ignored(.malformed(error))
        }
        guard UInt64(sequence) == expected, !isComplete else {
            guard expected > 0 else { return .ignored(.beforeFirstSegment) }
            return .reacknowledged(UInt32(expected - 1))
        }
        if let reason = checkLength(payload.count) { return .ignored(reason) }
        if expected == 0 { peer = sender }
        expected += 1
        bytesAccepted += UInt64(payload.count)
        isComplete = payload.isEmpty
        return .accepted(payload: payload, sequence: sequence, completesFile: payload.isEmpty)
    }

    private mutating func checkLength(_ length: Int) -> IgnoreReason? {
        guard length > 0 else { return nil }
        guard let segmentSize else {
            segmentSize = length
            return nil
        }
        if length > segmentSize { return .oversizedSegment(length: length) }
        if sawShortSegment { return .dataAfterShortSegment }
        if length < segmentSize { sawShortSegment = true }
        return nil
    }
}
