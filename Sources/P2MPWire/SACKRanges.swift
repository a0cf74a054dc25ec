/// The SACK ranges of one ACK: at most `NativeDatagram.maximumSACKRanges` half-open ranges,
/// stored inline, so that building, encoding and decoding an ACK allocates nothing.
///
/// A collection of `Range<UInt64>` like an array; appending beyond the capacity is a
/// programming error (checked).
public struct SACKRanges: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    public static let capacity = 16

    private typealias Storage = (
        Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>,
        Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>, Range<UInt64>,
        Range<UInt64>, Range<UInt64>
    )
    private static let empty: Range<UInt64> = 0..<0
    private var storage: Storage = (
        empty, empty, empty, empty, empty, empty, empty, empty, empty, empty, empty, empty, empty, empty, empty, empty
    )
    public private(set) var count = 0

    public init() {}

    public init(arrayLiteral ranges: Range<UInt64>...) {
        for range in ranges { append(range) }
    }

    public init<Ranges: Sequence<Range<UInt64>>>(_ ranges: Ranges) {
        for range in ranges { append(range) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public var isFull: Bool { count == Self.capacity }

    public subscript(position: Int) -> Range<UInt64> {
        precondition(position >= 0 && position < count, "SACK range index out of range")
        return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: position * Self.stride, as: Range<UInt64>.self) }
    }

    public mutating func append(_ range: Range<UInt64>) {
        precondition(count < Self.capacity, "an ACK carries at most \(Self.capacity) SACK ranges")
        let offset = count * Self.stride
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: range, toByteOffset: offset, as: Range<UInt64>.self) }
        count += 1
    }

    private static var stride: Int { MemoryLayout<Range<UInt64>>.stride }

    public static func == (lhs: SACKRanges, rhs: SACKRanges) -> Bool { lhs.elementsEqual(rhs) }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for range in self { hasher.combine(range) }
    }

    public var description: String { "[" + map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ") + "]" }
}
