/// The anti-replay window of RFC 6479: a ring of 32 64-bit words (2,048 bits) over the
/// counters below the highest one seen. A counter is fresh when it is above the highest,
/// or at most `size - 1` below it and not yet seen. One word of the ring is always the
/// spare RFC 6479 keeps, so `size` is 1,984 and the ring never needs shifting: moving up
/// clears whole words.
///
/// Check with `verdict(for:)` before opening a datagram (cheap, changes nothing) and
/// `record(_:)` only after it authenticated, so a forged datagram cannot move the window.
public struct ReplayWindow: Sendable {
    public enum Verdict: Equatable, Sendable {
        case fresh
        /// Already received.
        case replayed
        /// Too far below the highest counter to tell.
        case tooOld
    }

    static let wordCount = 32
    private static let wordBits = 64
    /// Counters up to `size - 1` below the highest one are told apart.
    public static let size = (wordCount - 1) * wordBits

    private var words: [UInt64]
    /// The highest counter recorded, when any was.
    public private(set) var highest: UInt64?
    /// Counters at or below this one were closed off (`closeBelowHighest`): too old.
    public private(set) var floor: UInt64?

    public init() {
        words = [UInt64](repeating: 0, count: Self.wordCount)
    }

    public func verdict(for counter: UInt64) -> Verdict {
        if let floor, counter <= floor { return .tooOld }
        guard let highest, counter <= highest else { return .fresh }
        if highest - counter >= UInt64(Self.size) { return .tooOld }
        return words[Self.word(counter)] & Self.bit(counter) != 0 ? .replayed : .fresh
    }

    /// Marks `counter` received; the caller checked that it is `.fresh` and authentic.
    public mutating func record(_ counter: UInt64) {
        if let highest {
            if counter > highest {
                let steps = min(counter / UInt64(Self.wordBits) - highest / UInt64(Self.wordBits), UInt64(Self.wordCount))
                var index = highest / UInt64(Self.wordBits)
                for _ in 0..<steps {
                    index &+= 1
                    words[Int(index % UInt64(Self.wordCount))] = 0
                }
                self.highest = counter
            }
        } else {
            highest = counter
        }
        words[Self.word(counter)] |= Self.bit(counter)
    }

    /// From now on, only counters above the highest recorded are fresh: what was never
    /// received below it stays unreceivable (for a session that has been quiet a while).
    public mutating func closeBelowHighest() {
        floor = highest
    }

    private static func word(_ counter: UInt64) -> Int { Int(counter / UInt64(wordBits) % UInt64(wordCount)) }
    private static func bit(_ counter: UInt64) -> UInt64 { 1 << (counter % UInt64(wordBits)) }
}
