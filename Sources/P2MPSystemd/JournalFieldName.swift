extension JournalRecord {
    /// The longest field name journald accepts.
    public static let maximumFieldNameLength = 64

    /// Prefix that makes a converted metadata key a valid, non-reserved field name.
    public static let fieldNamePrefix = "P2MP_"

    /// Field names this module writes itself; metadata cannot override them.
    public static let reservedFieldNames: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// The journald field name for a swift-log metadata key.
    ///
    /// 1. ASCII letters are uppercased; `A-Z`, `0-9` and `_` are kept; every other Unicode
    ///    scalar (`.`, `-`, space, non-ASCII…) becomes `_`.
    /// 2. `P2MP_` is prefixed when the result is empty, starts with `_` or a digit (journald
    ///    reserves `_` for trusted fields and rejects leading digits), or is one of
    ///    ``reservedFieldNames``.
    /// 3. The result is cut to ``maximumFieldNameLength`` characters.
    ///
    /// So `p2mp_event` and `P2MP_EVENT` both give `P2MP_EVENT`, `error.message` gives
    /// `ERROR_MESSAGE`, `_pid` gives `P2MP__PID`, `2nd` gives `P2MP_2ND` and `message`
    /// gives `P2MP_MESSAGE`.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = ""
        name.reserveCapacity(key.utf8.count)
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 0x20)!)
            case "A"..."Z", "0"..."9", "_": name.unicodeScalars.append(scalar)
            default: name.append("_")
            }
        }
        let needsPrefix = name.first.map { $0 == "_" || $0.isASCII && $0.isNumber } ?? true
        if needsPrefix || reservedFieldNames.contains(name) {
            name = fieldNamePrefix + name
        }
        return String(name.prefix(maximumFieldNameLength))
    }

    /// Whether `id` is a valid `MESSAGE_ID`: 32 lowercase hexadecimal digits, as printed by
    /// `systemd-id128 new`.
    public static func isValidMessageID(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
    }
}
