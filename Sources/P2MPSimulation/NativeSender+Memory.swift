import P2MPProtocol

extension NativeSender {
    /// Hands in a block `.payloadNeeded` asked for, from the whole file in memory.
    public mutating func supplyPayload(_ block: PayloadBlock, from file: [UInt8], now: Instant) {
        let start = Int(block.offset)
        supplyPayload(block, now: now) { destination in
            file.withUnsafeBytes { destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + block.length])) }
        }
    }
}
