import CCRC32C

/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final
/// XOR 0xFFFFFFFF. The check value, the CRC of the ASCII bytes "123456789", is 0xE3069283.
///
/// Accumulates incrementally, like `InternetChecksum`, so bytes held in several buffers can
/// be covered without copying them together; chunks may have any length. Uses the CPU's
/// CRC-32C instruction where there is one (x86-64 SSE4.2), else a table-driven
/// slicing-by-8 loop; both give the same values.
public struct CRC32C: Sendable {
    /// The running register, before the final XOR.
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// Adds `bytes` to the running CRC.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if Self.hasHardwareInstruction {
            state = p2mp_crc32c_hardware_update(state, base, bytes.count)
        } else {
            state = Self.softwareUpdate(state, bytes)
        }
    }

    /// Whether `add` uses the CPU's CRC-32C instruction.
    static let hasHardwareInstruction = p2mp_crc32c_hardware_available() != 0

    /// The portable path: advances the register `state` over `bytes` with the tables.
    static func softwareUpdate(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = state
        CRC32C.table.withUnsafeBufferPointer { table in
            var index = 0
            let count = bytes.count
            // Eight bytes per step: the register absorbs the first four, and each of the
            // eight bytes is then advanced through the remaining steps by its own table.
            while count - index >= 8 {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let low = crc ^ UInt32(truncatingIfNeeded: word)
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc =
                    table[7 * 256 + Int(low & 0xFF)]
                    ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)]
                    ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)]
                    ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)]
                    ^ table[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        return crc
    }

    /// The CRC of every byte added so far.
    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    /// The CRC of one contiguous buffer.
    public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.add(bytes)
        return crc.value
    }

    /// Eight 256-entry tables, back to back. Table 0 is the classic byte-at-a-time table;
    /// table k advances a byte through k further zero bytes.
    private static let table: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
            }
            table[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = (previous >> 8) ^ table[Int(previous & 0xFF)]
            }
        }
        return table
    }()
}
