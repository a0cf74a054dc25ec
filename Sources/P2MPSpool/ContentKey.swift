/// What a transfer delivers: its SHA-256 and size. Partials are stored by this key, so an
/// interrupted push of the same content resumes whoever sends it and under whatever name.
public struct ContentKey: Hashable, Sendable, CustomStringConvertible {
    public let sha256: [UInt8]
    public let size: UInt64

    /// Nil unless `sha256` is 32 bytes.
    public init?(sha256: [UInt8], size: UInt64) {
        guard sha256.count == 32 else { return nil }
        self.sha256 = sha256
        self.size = size
    }

    /// Nil unless `sha256Hex` is 64 hexadecimal digits.
    public init?(sha256Hex: String, size: UInt64) {
        guard let bytes = Hex.decode(sha256Hex) else { return nil }
        self.init(sha256: bytes, size: size)
    }

    /// The digest as 64 lowercase hex digits.
    public var sha256Hex: String { Hex.encode(sha256) }

    /// The stable file-name key: "<sha256 hex>-<size in decimal>".
    public var hexKey: String { "\(sha256Hex)-\(size)" }

    public var description: String { hexKey }
}
