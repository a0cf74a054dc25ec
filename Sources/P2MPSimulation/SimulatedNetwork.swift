import HeapModule
import P2MPProtocol

/// An in-memory datagram network on a virtual clock. Nodes are integers; every fault is
/// drawn from one seeded generator, so the same seed delivers the same datagrams at the
/// same virtual times.
public struct SimulatedNetwork {
    public struct Delivery: Comparable {
        public var at: Instant
        /// Breaks ties in send order, so equal times replay identically.
        var order: UInt64
        public var from: Int
        public var to: Int
        public var bytes: [UInt8]
        /// When it was sent, and whether it arrives as sent (not corrupted).
        public var sentAt: Instant
        public var intact: Bool

        public static func < (lhs: Delivery, rhs: Delivery) -> Bool { (lhs.at, lhs.order) < (rhs.at, rhs.order) }
        public static func == (lhs: Delivery, rhs: Delivery) -> Bool { lhs.order == rhs.order }
    }

    public private(set) var random: SeededRandom
    /// The link the datagrams sent with `queued` pass first, if any.
    public var bottleneck: Bottleneck?
    private var queue = Heap<Delivery>()
    private var order: UInt64 = 0
    /// Datagrams dropped, duplicated and corrupted so far.
    public private(set) var dropped = 0
    public private(set) var duplicated = 0
    public private(set) var corrupted = 0

    public init(random: SeededRandom) {
        self.random = random
    }

    /// When the next datagram arrives, if any is in flight.
    public var nextDeliveryTime: Instant? { queue.min?.at }

    /// Sends `bytes` under `conditions`; `mayCorrupt` is false for datagrams whose format
    /// relies on the UDP checksum alone (the classic ACK has no checksum of its own). A
    /// `queued` datagram passes `bottleneck` first (when there is one), and the path's delay
    /// and loss after it.
    public mutating func send(
        _ bytes: [UInt8], from: Int, to: Int, now: Instant, conditions: NetworkConditions, mayCorrupt: Bool = true,
        queued: Bool = false
    ) {
        var departure = now
        if queued, bottleneck != nil {
            guard let leaves = bottleneck?.enqueue(size: bytes.count, now: now) else {
                dropped += 1
                return
            }
            departure = leaves
        }
        if random.chance(conditions.loss) {
            dropped += 1
            return
        }
        let copies = random.chance(conditions.duplication) ? 2 : 1
        duplicated += copies - 1
        for _ in 0..<copies {
            var payload = bytes
            var intact = true
            if mayCorrupt, !payload.isEmpty, random.chance(conditions.corruption) {
                let bit = Int.random(in: 0..<payload.count * 8, using: &random)
                payload[bit / 8] ^= UInt8(1 << (bit % 8))
                corrupted += 1
                intact = false
            }
            var delay = conditions.delay.nanoseconds
            if conditions.jitter > .zero {
                delay += Int64.random(in: 0...conditions.jitter.nanoseconds, using: &random)
            }
            if random.chance(conditions.reordering) {
                delay += Int64.random(in: 0...max(1, 4 * conditions.delay.nanoseconds), using: &random)
            }
            order += 1
            queue.insert(
                Delivery(
                    at: departure + .nanoseconds(delay), order: order, from: from, to: to, bytes: payload, sentAt: now,
                    intact: intact))
        }
    }

    /// Removes and returns the next datagram.
    public mutating func popDelivery() -> Delivery? {
        queue.popMin()
    }
}
