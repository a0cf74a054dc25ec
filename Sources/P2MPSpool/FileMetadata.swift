/// What the spool records about a committed file, in its sidecar.
public struct FileMetadata: Equatable, Sendable {
    /// The sender's address as text, e.g. "192.0.2.7:40000".
    public var sender: String
    public var transferID: UInt64
    public var size: UInt64
    /// SHA-256 of the content, 64 lowercase hex digits.
    public var sha256: String
    /// Seconds since the epoch.
    public var startTime: Double
    /// Seconds since the epoch.
    public var endTime: Double
    /// The sender's public key, once pushes are authenticated.
    public var senderKey: String?

    public init(
        sender: String, transferID: UInt64, size: UInt64, sha256: String,
        startTime: Double, endTime: Double, senderKey: String? = nil
    ) {
        self.sender = sender
        self.transferID = transferID
        self.size = size
        self.sha256 = sha256
        self.startTime = startTime
        self.endTime = endTime
        self.senderKey = senderKey
    }
}
