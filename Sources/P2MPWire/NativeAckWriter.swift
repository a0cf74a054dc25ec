extension NativeDatagram {
    /// The size of an ACK datagram with `sackRanges` SACK ranges.
    public static func ackDatagramSize(sackRanges: Int) -> Int {
        headerSize + ackFixedSize + sackRanges * sackRangeSize + checksumSize
    }

    /// Writes a complete ACK datagram, CRC included, at the start of `destination` (at least
    /// `ackDatagramSize(sackRanges:)` bytes, checked) and returns its size: a receiver sends
    /// one per burst of DATA, so it is written in place, without an intermediate array.
    /// The SACK ranges must be as `NativeAck.selective` describes (checked).
    public static func writeAck(
        transferID: UInt64, _ ack: NativeAck, to destination: UnsafeMutableRawBufferPointer
    ) -> Int {
        let size = ackDatagramSize(sackRanges: ack.selective.count)
        precondition(destination.count >= size, "ACK destination too small")
        destination.storeBytes(of: magic.bigEndian, toByteOffset: 0, as: UInt16.self)
        destination[2] = version
        destination[3] = NativePacketType.ack.rawValue
        destination.storeBytes(of: transferID.bigEndian, toByteOffset: 4, as: UInt64.self)
        var offset = headerSize
        func store<Value: FixedWidthInteger>(_ value: Value) {
            destination.storeBytes(of: value.bigEndian, toByteOffset: offset, as: Value.self)
            offset += MemoryLayout<Value>.size
        }
        store(ack.cumulative)
        store(ack.window)
        store(ack.echoTimestamp)
        store(UInt8(ack.selective.count))
        var floor = ack.cumulative
        for range in ack.selective {
            precondition(
                range.lowerBound >= floor && !range.isEmpty,
                "SACK ranges must be non-empty, increasing, non-overlapping and above the cumulative point")
            store(range.lowerBound)
            store(range.upperBound)
            floor = range.upperBound
        }
        let checksum = CRC32C.compute(UnsafeRawBufferPointer(rebasing: destination[0..<offset]))
        store(checksum)
        return size
    }
}
