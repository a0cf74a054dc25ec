import P2MPWire

/// The receiving half of selective repeat for one transfer: which segments arrived, where
/// their bytes go, and the ACK that describes it.
///
/// Only segments in `[cumulative, cumulative + window)` are accepted, tracked in a ring
/// bitmap of `window` bits, so memory is fixed by the window, not by the file. Every
/// segment must have exactly its expected length (all `segmentSize` but the last), so no
/// datagram can change where bytes land.
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

    public let segmentSize: Int
    public let fileSize: UInt64
    public let segmentCount: UInt64
    /// The window advertised to the sender, in segments.
    public let window: Int
    /// Segments `0..<cumulative` are held.
    public private(set) var cumulative: UInt64
    private var bits: [UInt64]
    private let ringSegments: UInt64
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
        var ring: UInt64 = 64
        while ring < UInt64(self.window) { ring <<= 1 }
        ringSegments = ring
        bits = Array(repeating: 0, count: Int(ring / 64))
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
            return segment < cumulative ? .duplicate : .outsideWindow
        }
        latestTimestamp = timestamp
        if segment < cumulative || isHeld(segment) { return .duplicate }
        let expected = expectedLength(of: segment)
        guard length == expected else { return .wrongLength(expected: expected) }
        setHeld(segment, true)
        highest = max(highest, segment + 1)
        while cumulative < highest, isHeld(cumulative) {
            setHeld(cumulative, false)
            cumulative += 1
        }
        return .store(offset: segment * UInt64(segmentSize))
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
        while segment < highest, !isHeld(segment) { segment += 1 }
        guard segment < highest else { return nil }
        let start = segment
        while segment < highest, isHeld(segment) { segment += 1 }
        return start..<segment
    }

    /// The last run of held segments below `end` and above `floor`, if any.
    private func heldRange(downFrom end: UInt64, above floor: UInt64) -> Range<UInt64>? {
        var segment = end
        while segment > floor, !isHeld(segment - 1) { segment -= 1 }
        guard segment > floor else { return nil }
        let upper = segment
        while segment > floor, isHeld(segment - 1) { segment -= 1 }
        return segment..<upper
    }

    private func isHeld(_ segment: UInt64) -> Bool {
        let slot = segment % ringSegments
        return bits[Int(slot / 64)] & (1 << (slot % 64)) != 0
    }

    private mutating func setHeld(_ segment: UInt64, _ held: Bool) {
        let slot = segment % ringSegments
        if held {
            bits[Int(slot / 64)] |= 1 << (slot % 64)
        } else {
            bits[Int(slot / 64)] &= ~(1 << (slot % 64))
        }
    }
}
