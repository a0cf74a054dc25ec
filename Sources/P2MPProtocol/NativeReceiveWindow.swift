import P2MPWire

/// The receiving half of selective repeat for one transfer: which segments arrived, where
/// their bytes go, the ACK that describes it, and what went missing (`reception`).
///
/// Only segments in `[cumulative, cumulative + window)` are accepted, tracked in a ring
/// bitmap of `window` bits, so memory is fixed by the window, not by the file. Every
/// segment must have exactly its expected length (all `segmentSize` but the last), so no
/// datagram can change where bytes land.
///
/// Loss is counted where it shows: a segment that arrives above `highest` reveals the
/// segments it skipped as holes (network loss, unless the receiver itself discarded them),
/// and a hole that arrives later is repaired.
public struct NativeReceiveWindow: Sendable {
    public enum Verdict: Equatable, Sendable {
        /// New data: write the payload at `offset`.
        case store(offset: UInt64)
        /// Already held; acknowledge again.
        case duplicate
        /// Outside the advertised window; dropped.
        case outsideWindow
        /// Not the length this segment must have; dropped.
        case wrongLength(expected: Int)
    }

    /// Why the receiver discarded a DATA segment on purpose.
    public enum DiscardReason: Sendable {
        /// Simulated loss drew it.
        case simulatedLoss
        /// The transfer's storage was behind.
        case storageBehind

        var cause: NativeLossCause {
            switch self {
            case .simulatedLoss: .simulated
            case .storageBehind: .storage
            }
        }
    }

    public let segmentSize: Int
    public let fileSize: UInt64
    public let segmentCount: UInt64
    /// The window advertised to the sender, in segments.
    public let window: Int
    /// Segments `0..<cumulative` are held.
    public private(set) var cumulative: UInt64
    /// What arrived and what went missing, since this window was made.
    public private(set) var reception = NativeReception()
    /// Segments held above `cumulative`.
    private var held: SegmentRing
    /// Segments at or above `highest` when discarded on purpose, so that the hole they leave
    /// is not counted again as network loss; a mark goes when its segment arrives. Marked
    /// segments are never held, so they stay in `[cumulative, cumulative + window)` and a
    /// mark never outlives its slot.
    private var discardedBySimulation: SegmentRing
    private var discardedForStorage: SegmentRing
    private var marks = 0
    /// One past the highest segment held.
    private var highest: UInt64
    /// The timestamp of the most recent DATA, echoed in the next ACK.
    private var latestTimestamp: UInt32 = 0

    /// A window over a file of `fileSize` bytes whose segments `0..<resumeFrom` are held.
    public init(segmentSize: Int, fileSize: UInt64, window: Int, resumeFrom: UInt64) {
        self.segmentSize = max(1, segmentSize)
        self.fileSize = fileSize
        let size = UInt64(self.segmentSize)
        segmentCount = fileSize.dividedRoundingUp(by: size)
        self.window = max(1, window)
        held = SegmentRing(window: self.window)
        discardedBySimulation = held
        discardedForStorage = held
        cumulative = min(resumeFrom, segmentCount)
        highest = cumulative
    }

    public var isComplete: Bool { cumulative == segmentCount }

    /// Bytes held contiguously from the start of the file.
    public var contiguousBytes: UInt64 { min(cumulative * UInt64(segmentSize), fileSize) }

    /// The exact payload length of `segment`.
    public func expectedLength(of segment: UInt64) -> Int {
        guard segment < segmentCount else { return 0 }
        let offset = segment * UInt64(segmentSize)
        return Int(min(UInt64(segmentSize), fileSize - offset))
    }

    /// Accounts for one DATA segment.
    public mutating func receive(segment: UInt64, length: Int, timestamp: UInt32) -> Verdict {
        guard segment < segmentCount, segment < cumulative + UInt64(window) else {
            guard segment < cumulative else { return .outsideWindow }
            countDuplicate()
            return .duplicate
        }
        latestTimestamp = timestamp
        if segment < cumulative || held.contains(segment) {
            countDuplicate()
            return .duplicate
        }
        let expected = expectedLength(of: segment)
        guard length == expected else { return .wrongLength(expected: expected) }
        countArrival(of: segment)
        held.insert(segment)
        highest = max(highest, segment + 1)
        while cumulative < highest, held.contains(cumulative) {
            held.remove(cumulative)
            cumulative += 1
        }
        return .store(offset: segment * UInt64(segmentSize))
    }

    /// Accounts for a DATA segment the receiver discarded on purpose: lost for `reason`,
    /// and, if nothing above it arrived yet, marked so that the hole it leaves is not
    /// counted as network loss when something does. (Below `highest` it is held or a hole
    /// counted already; a marked segment keeps its first cause.)
    public mutating func discard(segment: UInt64, _ reason: DiscardReason) {
        reception.segments += 1
        reception[reason.cause].lost += 1
        guard segment >= highest, segment < segmentCount, segment < cumulative + UInt64(window),
            markedCause(of: segment) == nil
        else { return }
        switch reason {
        case .simulatedLoss: discardedBySimulation.insert(segment)
        case .storageBehind: discardedForStorage.insert(segment)
        }
        marks += 1
    }

    private mutating func countDuplicate() {
        reception.segments += 1
        reception.duplicates += 1
    }

    /// A new segment: the holes below it that it reveals are network loss (unless discarded
    /// on purpose), and if it was missing itself, it is repaired under its first cause.
    private mutating func countArrival(of segment: UInt64) {
        reception.segments += 1
        let wasHole = segment < highest
        if !wasHole {
            if marks == 0 {
                reception.network.lost += segment - highest
            } else {
                for skipped in highest..<segment where markedCause(of: skipped) == nil { reception.network.lost += 1 }
            }
        }
        if let cause = takeMark(segment) {
            reception[cause].repaired += 1
        } else if wasHole {
            reception.network.repaired += 1
        }
    }

    private func markedCause(of segment: UInt64) -> NativeLossCause? {
        guard marks > 0 else { return nil }
        if discardedBySimulation.contains(segment) { return .simulated }
        if discardedForStorage.contains(segment) { return .storage }
        return nil
    }

    /// Removes and returns the mark of `segment`, if any.
    private mutating func takeMark(_ segment: UInt64) -> NativeLossCause? {
        guard let cause = markedCause(of: segment) else { return nil }
        if cause == .simulated { discardedBySimulation.remove(segment) } else { discardedForStorage.remove(segment) }
        marks -= 1
        return cause
    }

    /// The acknowledgement of what is held: the cumulative point, the window, the latest
    /// timestamp, and up to 16 SACK ranges above the cumulative point, in ascending order.
    /// When more than 16 ranges are held, the lowest 8 and the highest 8 are reported: the
    /// low ones show the repairs near the cumulative point, the high ones what arrived last,
    /// which the sender's loss detection and delivery rate need at once (RFC 2018 reports
    /// the most recent first for the same reason); the sender remembers the middle ones from
    /// earlier acknowledgements.
    public func acknowledgement() -> NativeAck {
        var ranges = SACKRanges()
        var segment = cumulative
        while segment < highest, !ranges.isFull {
            guard let range = heldRange(from: segment) else { break }
            ranges.append(range)
            segment = range.upperBound
        }
        if ranges.isFull, heldRange(from: segment) != nil {
            let half = SACKRanges.capacity / 2
            var highestRanges: [Range<UInt64>] = []
            var end = highest
            while highestRanges.count < half, let range = heldRange(downFrom: end, above: ranges[half - 1].upperBound) {
                highestRanges.append(range)
                end = range.lowerBound
            }
            ranges = SACKRanges(ranges.prefix(half) + highestRanges.reversed())
        }
        return NativeAck(
            cumulative: cumulative, window: UInt32(window), echoTimestamp: latestTimestamp, selective: ranges)
    }

    /// The first run of held segments at or above `segment`, if any.
    private func heldRange(from segment: UInt64) -> Range<UInt64>? {
        var segment = segment
        while segment < highest, !held.contains(segment) { segment += 1 }
        guard segment < highest else { return nil }
        let start = segment
        while segment < highest, held.contains(segment) { segment += 1 }
        return start..<segment
    }

    /// The last run of held segments below `end` and above `floor`, if any.
    private func heldRange(downFrom end: UInt64, above floor: UInt64) -> Range<UInt64>? {
        var segment = end
        while segment > floor, !held.contains(segment - 1) { segment -= 1 }
        guard segment > floor else { return nil }
        let upper = segment
        while segment > floor, held.contains(segment - 1) { segment -= 1 }
        return segment..<upper
    }
}

/// One bit per segment over a ring of at least `window` segments: a set over any
/// `window` consecutive segments, in fixed memory.
private struct SegmentRing: Sendable {
    private var bits: [UInt64]
    private let ringSegments: UInt64

    init(window: Int) {
        var ring: UInt64 = 64
        while ring < UInt64(window) { ring <<= 1 }
        ringSegments = ring
        bits = Array(repeating: 0, count: Int(ring / 64))
    }

    func contains(_ segment: UInt64) -> Bool {
        let slot = segment % ringSegments
        return bits[Int(slot / 64)] & (1 << (slot % 64)) != 0
    }

    mutating func insert(_ segment: UInt64) {
        let slot = segment % ringSegments
        bits[Int(slot / 64)] |= 1 << (slot % 64)
    }

    mutating func remove(_ segment: UInt64) {
        let slot = segment % ringSegments
        bits[Int(slot / 64)] &= ~(1 << (slot % 64))
    }
}
