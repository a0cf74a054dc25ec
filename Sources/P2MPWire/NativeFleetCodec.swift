extension NativeDatagram {
    // Bodies of the fleet-query packets (docs/PROTOCOL.md, "Fleet queries").

    static func decodeList(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        try require(body.remaining == 4)
        return .list(cursor: body.readUInt32())
    }

    static func decodeListing(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        try require(body.remaining >= 10)
        let total = body.readUInt32()
        let cursor = body.readUInt32()
        let count = Int(body.readUInt16())
        var entries: [NativeListing.Entry] = []
        for _ in 0..<count {
            try require(body.remaining >= 50)
            let size = body.readUInt64()
            let modified = body.readUInt64()
            let sha256 = body.readDigest()
            let name = try readName(&body, require: require)
            entries.append(.init(name: name, size: size, modified: modified, sha256: sha256))
        }
        try require(body.remaining == 0)
        return .listing(NativeListing(total: total, cursor: cursor, entries: entries))
    }

    static func decodeMove(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        let from = try readName(&body, require: require)
        let to = try readName(&body, require: require)
        try require(body.remaining == 0)
        return .move(from: from, to: to)
    }

    /// The body of REMOVE and GET: one name and nothing after it.
    static func decodeOnlyName(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> String {
        let name = try readName(&body, require: require)
        try require(body.remaining == 0)
        return name
    }

    static func decodeResult(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        try require(body.remaining >= 3)
        let status = NativeResult.Status(rawValue: body.readUInt8())
        return .result(NativeResult(status: status, text: try decodeText(&body, require: require)))
    }

    /// A u16 length (1...4096) and that many bytes of UTF-8.
    static func readName(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> String {
        try require(body.remaining >= 2)
        let length = Int(body.readUInt16())
        guard (1...maximumNameLength).contains(length) else { throw .nameLengthOutOfRange(length: length) }
        try require(body.remaining >= length)
        return try body.readString(length: length)
    }

    static func appendListing(_ listing: NativeListing, to buffer: inout [UInt8]) {
        precondition(listing.entries.count <= Int(UInt16.max), "a LISTING holds at most 65,535 entries")
        buffer.appendBigEndian(listing.total)
        buffer.appendBigEndian(listing.cursor)
        buffer.appendBigEndian(UInt16(listing.entries.count))
        for entry in listing.entries {
            buffer.appendBigEndian(entry.size)
            buffer.appendBigEndian(entry.modified)
            entry.sha256.append(to: &buffer)
            appendName(entry.name, to: &buffer)
        }
    }

    /// A u16 length and the name's UTF-8; names are 1...4096 bytes (checked).
    static func appendName(_ name: String, to buffer: inout [UInt8]) {
        let length = name.utf8.count
        precondition((1...maximumNameLength).contains(length), "a name must be 1...4096 UTF-8 bytes")
        buffer.appendBigEndian(UInt16(length))
        buffer.append(contentsOf: name.utf8)
    }
}
