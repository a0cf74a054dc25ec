/// Where a sender's file bytes come from: a file in production, an array in simulation.
/// The protocol layer asks for byte ranges; it never opens anything itself.
public protocol SegmentSource {
    /// The total size in bytes.
    var byteCount: UInt64 { get }
    /// Fills `buffer` completely with the bytes starting at `offset`.
    func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
}

/// An in-memory `SegmentSource`.
public struct ByteArraySource: SegmentSource, Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var byteCount: UInt64 { UInt64(bytes.count) }

    public func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        let start = Int(offset)
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + buffer.count]))
        }
    }
}
