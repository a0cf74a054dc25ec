import P2MPWire

/// A span of the file a sender needs: the application reads `length` bytes at `offset` and
/// hands them to the machine (`supplyPayload`).
public struct PayloadBlock: Hashable, Sendable, CustomStringConvertible {
    public var offset: UInt64
    public var length: Int

    public var description: String { "\(length) bytes at \(offset)" }
}

/// The bytes of the file a sender holds for DATA, in blocks the application supplies, so
/// that the machine reads no file. A block holds whole segments (no segment spans two), so a
/// burst to many receivers costs one read per block and a memory copy per segment; at most
/// `capacity` blocks are held, the least recently used given up first.
struct PayloadStore: Sendable {
    private static let targetBlockBytes = 256 << 10
    static let capacity = 16

    private struct Slot: Sendable {
        var index: UInt64
        var bytes: [UInt8]
        var lastUse: UInt64
    }

    let fileSize: UInt64
    let segmentSize: Int
    /// Bytes per block: a whole number of segments, about 256 KiB.
    let blockBytes: Int
    private var slots: [Slot] = []
    /// Blocks asked of the application and not yet supplied.
    private(set) var requested: Set<UInt64> = []
    private var useClock: UInt64 = 0

    init(fileSize: UInt64, segmentSize: Int) {
        self.fileSize = fileSize
        self.segmentSize = max(1, segmentSize)
        blockBytes = max(1, Self.targetBlockBytes / self.segmentSize) * self.segmentSize
    }

    /// Blocks in the file.
    var blockCount: UInt64 { fileSize.dividedRoundingUp(by: UInt64(blockBytes)) }

    func blockIndex(ofSegment segment: UInt64) -> UInt64 {
        segment.multipliedReportingOverflow(by: UInt64(segmentSize)).partialValue / UInt64(blockBytes)
    }

    /// Where block `index` lies in the file.
    func block(_ index: UInt64) -> PayloadBlock {
        let offset = index * UInt64(blockBytes)
        return PayloadBlock(offset: offset, length: Int(min(UInt64(blockBytes), fileSize - min(offset, fileSize))))
    }

    func holds(_ index: UInt64) -> Bool { slots.contains { $0.index == index } }

    /// Marks block `index` as asked for; false when it is held or already asked for.
    mutating func request(_ index: UInt64) -> Bool {
        guard index < blockCount, !holds(index), requested.count < Self.capacity else { return false }
        return requested.insert(index).inserted
    }

    /// Fills an asked-for block: `fill` writes its `block.length` bytes into the buffer it is
    /// given. A block never asked for is refused (false, `fill` not called); when `fill`
    /// throws, the block stays asked for and the error goes to the caller.
    mutating func supply(
        _ block: PayloadBlock, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows -> Bool {
        guard block.offset % UInt64(blockBytes) == 0 else { return false }
        let index = block.offset / UInt64(blockBytes)
        guard requested.contains(index), self.block(index) == block else { return false }
        let slot: Int
        if slots.count < Self.capacity {
            slots.append(Slot(index: .max, bytes: [UInt8](repeating: 0, count: block.length), lastUse: 0))
            slot = slots.count - 1
        } else {
            slot = slots.indices.min { slots[$0].lastUse < slots[$1].lastUse } ?? 0
            slots[slot].index = .max  // Invalid until filled.
            if slots[slot].bytes.count != block.length {
                slots[slot].bytes = [UInt8](repeating: 0, count: block.length)
            }
        }
        try slots[slot].bytes.withUnsafeMutableBytes { try fill($0) }
        requested.remove(index)
        useClock += 1
        slots[slot].index = index
        slots[slot].lastUse = useClock
        return true
    }

    /// Calls `body` with the payload of `segment`, of `length` bytes, if its block is held.
    mutating func withSegment<Result>(
        _ segment: UInt64, length: Int, _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result? {
        let index = blockIndex(ofSegment: segment)
        guard let slot = slots.firstIndex(where: { $0.index == index }) else { return nil }
        useClock += 1
        slots[slot].lastUse = useClock
        let start = Int(segment * UInt64(segmentSize) - index * UInt64(blockBytes))
        return slots[slot].bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
    }
}
