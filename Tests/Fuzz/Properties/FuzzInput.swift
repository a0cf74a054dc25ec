/// Reads a fuzzer's bytes as the choices that build a structured value: each call takes the
/// next bytes, and an exhausted input reads as zeros, so every input builds some value and
/// a small change to the input makes a small change to the value.
struct FuzzInput {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isExhausted: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func integer<Value: FixedWidthInteger & UnsignedInteger>(_: Value.Type = Value.self) -> Value {
        var value: Value = 0
        for _ in 0..<MemoryLayout<Value>.size {
            value = value << 8 | Value(byte())
        }
        return value
    }

    mutating func boolean() -> Bool { byte() & 1 == 1 }

    /// A number in `0...limit`.
    mutating func count(upTo limit: Int) -> Int {
        Int(integer(UInt32.self) % UInt32(limit + 1))
    }

    /// The next bytes, at most `limit` of them, as many as the first choice says.
    mutating func bytes(upTo limit: Int) -> [UInt8] {
        let count = min(count(upTo: limit), bytes.count - min(position, bytes.count))
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// Exactly `count` bytes: the next ones, then zeros once the input is exhausted.
    mutating func bytes(exactly count: Int) -> [UInt8] {
        (0..<count).map { _ in byte() }
    }

    /// Text of at most `limit` UTF-8 bytes (at least one when `nonEmpty`), from the next
    /// bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    mutating func text(upTo limit: Int, nonEmpty: Bool = false) -> String {
        let decoded = String(decoding: bytes(upTo: limit), as: UTF8.self)
        var text = ""
        for scalar in decoded.unicodeScalars {
            guard text.utf8.count + UTF8.width(scalar) <= limit else { break }
            text.unicodeScalars.append(scalar)
        }
        return text.isEmpty && nonEmpty ? "a" : text
    }
}
