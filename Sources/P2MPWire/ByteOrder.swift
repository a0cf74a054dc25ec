extension UnsafeRawBufferPointer {
    /// Reads a big-endian `UInt16` at `offset`; the caller checked the bounds.
    @inlinable
    public func loadBigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// Reads a big-endian `UInt32` at `offset`; the caller checked the bounds.
    @inlinable
    public func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(loadBigEndianUInt16(at: offset)) << 16 | UInt32(loadBigEndianUInt16(at: offset + 2))
    }

    /// Reads a big-endian `UInt64` at `offset`; the caller checked the bounds.
    @inlinable
    public func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(loadBigEndianUInt32(at: offset)) << 32 | UInt64(loadBigEndianUInt32(at: offset + 4))
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in network byte order.
    @inlinable
    public mutating func appendBigEndian<Value: FixedWidthInteger & UnsignedInteger>(_ value: Value) {
        var bigEndian = value.bigEndian
        Swift.withUnsafeBytes(of: &bigEndian) { append(contentsOf: $0) }
    }
}
