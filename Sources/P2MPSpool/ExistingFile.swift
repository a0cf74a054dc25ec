/// A file committed in the spool: its size and SHA-256, and its metadata when its
/// sidecar is present and still describes it.
public struct ExistingFile: Equatable, Sendable {
    public var size: UInt64
    public var sha256: [UInt8]
    /// Nil when the digest came from hashing the file (no sidecar, or a stale one).
    public var metadata: FileMetadata?

    public init(size: UInt64, sha256: [UInt8], metadata: FileMetadata?) {
        self.size = size
        self.sha256 = sha256
        self.metadata = metadata
    }

    /// The digest as 64 lowercase hex digits.
    public var sha256Hex: String { Hex.encode(sha256) }

    /// Whether this is the content `key` describes.
    public func matches(_ key: ContentKey) -> Bool {
        size == key.size && sha256 == key.sha256
    }
}
