/// The Internet checksum of RFC 1071: the one's complement of the one's complement sum of
/// all 16-bit big-endian words, an odd trailing byte padded with a zero byte.
///
/// Accumulates incrementally so a header and a payload held in different buffers can be
/// summed without copying them together. Every chunk but the last must have an even length.
public struct InternetChecksum: Sendable {
    private var sum: UInt64 = 0

    public init() {}

    /// Adds `bytes` to the running sum.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        var partial: UInt64 = 0
        while index + 1 < count {
            partial &+= UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < count {
            partial &+= UInt64(bytes[index]) << 8
        }
        sum &+= partial
    }

    /// Adds one 16-bit word.
    public mutating func add(word: UInt16) {
        sum &+= UInt64(word)
    }

    /// Adds a 32-bit value as two 16-bit words.
    public mutating func add(doubleWord: UInt32) {
        sum &+= UInt64(doubleWord >> 16) &+ UInt64(doubleWord & 0xFFFF)
    }

    /// The checksum: the one's complement of the folded sum.
    public var value: UInt16 {
        var folded = sum
        while folded >> 16 != 0 {
            folded = (folded & 0xFFFF) &+ (folded >> 16)
        }
        return ~UInt16(folded)
    }

    /// The checksum of one contiguous buffer.
    public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(bytes)
        return checksum.value
    }
}
