import NIOCore

/// Datagrams of one size for one address, back to back in one buffer, waiting to leave in
/// a single UDP GSO send. The kernel cuts the buffer every `segmentSize` bytes; only the
/// last datagram may be shorter, so a short one closes the batch.
struct SegmentBatch {
    /// Segments per send the kernel accepts on every version with UDP GSO (UDP_MAX_SEGMENTS
    /// was 64 before Linux 6.9).
    static let maximumSegments = 64
    /// One send carries at most a maximal UDP payload.
    static let maximumBytes = 65_507

    let address: SocketAddress
    let segmentSize: Int
    private(set) var buffer: ByteBuffer
    private(set) var count = 0
    private var endsShort = false

    init(address: SocketAddress, segmentSize: Int, buffer: ByteBuffer) {
        self.address = address
        self.segmentSize = segmentSize
        self.buffer = buffer
    }

    /// The buffer size that holds a full batch of `segmentSize`-byte datagrams.
    static func capacity(forSegmentSize segmentSize: Int) -> Int {
        max(segmentSize, min(maximumBytes / max(1, segmentSize), maximumSegments) * segmentSize)
    }

    /// Whether a datagram of `size` bytes for `address` may join.
    func accepts(size: Int, for address: SocketAddress) -> Bool {
        !endsShort && size <= segmentSize && count < Self.maximumSegments
            && buffer.readableBytes + size <= Self.maximumBytes && address == self.address
    }

    mutating func append(size: Int, _ write: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows {
        let written = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { try write($0) }
        count += 1
        if written < segmentSize { endsShort = true }
    }
}
