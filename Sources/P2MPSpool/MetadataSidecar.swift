/// The JSON file `.p2mp/meta/<sha256 of the name>.json` beside a committed file.
///
/// It holds the `FileMetadata` and the identity of the file it describes (name, inode,
/// size, modification time). `Spool.existing` trusts it only while all four still match
/// the file, so a sidecar left behind by a replaced or edited file is never believed.
struct MetadataSidecar: Equatable {
    static let format = "p2mp-meta-1"
    /// Sidecars are small; a longer file is not one of ours.
    static let maximumBytes = 64 * 1024

    var name: String
    var inode: UInt64
    var size: UInt64
    var modificationSeconds: Int64
    var modificationNanoseconds: Int64
    var metadata: FileMetadata

    /// The sidecar's file name for `name`: fixed length whatever the name's depth or length.
    static func fileName(for name: SpoolName) -> String {
        FileDigest.sha256Hex(Array(name.rawValue.utf8)) + ".json"
    }

    func encoded() -> String {
        FlatJSON.encode([
            ("format", .string(Self.format)),
            ("name", .string(name)),
            ("inode", FlatJSON.number(inode)),
            ("size", FlatJSON.number(size)),
            ("mtimeSeconds", FlatJSON.number(modificationSeconds)),
            ("mtimeNanoseconds", FlatJSON.number(modificationNanoseconds)),
            ("sha256", .string(metadata.sha256)),
            ("sender", .string(metadata.sender)),
            ("transferID", FlatJSON.number(metadata.transferID)),
            ("startTime", FlatJSON.number(metadata.startTime)),
            ("endTime", FlatJSON.number(metadata.endTime)),
            ("senderKey", metadata.senderKey.map(FlatJSON.Value.string) ?? .null),
        ])
    }

    /// Nil for anything that is not a complete sidecar of this format.
    init?(decoding bytes: [UInt8]) {
        guard let fields = FlatJSON.decode(bytes), fields.string("format") == Self.format,
            let name = fields.string("name"), let inode = fields.unsigned("inode"),
            let size = fields.unsigned("size"), let seconds = fields.signed("mtimeSeconds"),
            let nanoseconds = fields.signed("mtimeNanoseconds"), let sha256 = fields.string("sha256"),
            let sender = fields.string("sender"), let transferID = fields.unsigned("transferID"),
            let startTime = fields.double("startTime"), let endTime = fields.double("endTime")
        else { return nil }
        let senderKey: String?
        switch fields["senderKey"] {
        case .string(let key): senderKey = key
        case .null, nil: senderKey = nil
        default: return nil
        }
        self.init(
            name: name, inode: inode, size: size, modificationSeconds: seconds,
            modificationNanoseconds: nanoseconds,
            metadata: FileMetadata(
                sender: sender, transferID: transferID, size: size, sha256: sha256,
                startTime: startTime, endTime: endTime, senderKey: senderKey))
    }

    init(
        name: String, inode: UInt64, size: UInt64, modificationSeconds: Int64, modificationNanoseconds: Int64,
        metadata: FileMetadata
    ) {
        self.name = name
        self.inode = inode
        self.size = size
        self.modificationSeconds = modificationSeconds
        self.modificationNanoseconds = modificationNanoseconds
        self.metadata = metadata
    }

    /// The digest it records, when it is well formed and describes `identity` under `name`.
    func digest(ifDescribing identity: FileIdentity, named name: SpoolName) -> [UInt8]? {
        guard self.name.utf8.elementsEqual(name.rawValue.utf8), inode == identity.inode, size == identity.size,
            modificationSeconds == identity.modified.seconds,
            modificationNanoseconds == identity.modified.nanoseconds, metadata.size == size,
            let digest = Hex.decode(metadata.sha256), digest.count == 32
        else { return nil }
        return digest
    }
}
