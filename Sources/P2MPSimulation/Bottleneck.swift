import P2MPProtocol

/// A link of fixed rate with a drop-tail buffer, as the sender's access link of a WAN: what
/// arrives while the link is busy waits in the buffer, what does not fit is dropped. Every
/// datagram the sender sends passes it before the path's delay and loss.
public struct Bottleneck: Sendable {
    /// One datagram through the link: when it arrived and how long it waited in the buffer.
    public struct Passage: Sendable {
        public var at: Instant
        public var queueing: Duration
    }

    public let bytesPerSecond: Double
    public let bufferBytes: Int
    /// Bytes each datagram takes on the link beyond its own (IP and UDP headers).
    public let overheadBytes: Int
    /// When the link has sent everything it holds.
    private var busyUntil = Instant.zero
    /// When the full buffer dropped a datagram.
    public private(set) var overflows: [Instant] = []
    public private(set) var passages: [Passage] = []
    /// Bytes sent on the link, overhead included.
    public private(set) var bytesSent = 0

    public init(bytesPerSecond: Double, bufferBytes: Int, overheadBytes: Int = 28) {
        self.bytesPerSecond = bytesPerSecond
        self.bufferBytes = bufferBytes
        self.overheadBytes = overheadBytes
    }

    /// When a datagram of `size` bytes arriving at `now` has left the link, or nil when the
    /// buffer has no room for it.
    mutating func enqueue(size: Int, now: Instant) -> Instant? {
        let bytes = size + overheadBytes
        let waiting = busyUntil.duration(since: now)
        let queued = waiting.seconds * bytesPerSecond
        guard queued + Double(bytes) <= Double(bufferBytes) else {
            overflows.append(now)
            return nil
        }
        let start = max(now, busyUntil)
        busyUntil = start + .nanoseconds(Int64((Double(bytes) / bytesPerSecond * 1e9).rounded(.up)))
        passages.append(Passage(at: now, queueing: waiting))
        bytesSent += bytes
        return busyUntil
    }
}
