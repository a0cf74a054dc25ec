extension NativeDatagram {
    /// Bodies of the fleet-query packets (docs/PROTOCOL.md, "Fleet queries").
    static func decodeFleetBody(
        _ type: NativePacketType, _ body: inout NativeReader,
        require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        switch type {
        case .list:
            try require(body.remaining == 4)
            return .list(cursor: body.readUInt32())
        case .listing:
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
        case .move:
            let from = try readName(&body, require: require)
            let to = try readName(&body, require: require)
            try require(body.remaining == 0)
            return .move(from: from, to: to)
        case .remove, .get:
            let name = try readName(&body, require: require)
            try require(body.remaining == 0)
            return type == .get ? .get(name: name) : .remove(name: name)
        case .result:
            try require(body.remaining >= 3)
            let status = NativeResult.Status(rawValue: body.readUInt8())
            return .result(NativeResult(status: status, text: try decodeText(&body, require: require)))
        default:
            preconditionFailure("not a fleet-query type: \(type)")
        }
    }

    /// A u16 length (1...4096) and that many bytes of UTF-8.
    private static func readName(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> String {
        try require(body.remaining >= 2)
        let length = Int(body.readUInt16())
        guard (1...maximumNameLength).contains(length) else { throw .nameLengthOutOfRange(length: length) }
        try require(body.remaining >= length)
        return try body.readString(length: length)
    }

    static func appendFleetBody(_ packet: NativePacket, to buffer: inout [UInt8]) {
        switch packet {
        case .list(let cursor):
            buffer.appendBigEndian(cursor)
        case .listing(let listing):
            buffer.appendBigEndian(listing.total)
            buffer.appendBigEndian(listing.cursor)
            buffer.appendBigEndian(UInt16(listing.entries.count))
            for entry in listing.entries {
                buffer.appendBigEndian(entry.size)
                buffer.appendBigEndian(entry.modified)
                entry.sha256.append(to: &buffer)
                appendName(entry.name, to: &buffer)
            }
        case .move(let from, let to):
            appendName(from, to: &buffer)
            appendName(to, to: &buffer)
        case .remove(let name), .get(let name):
            appendName(name, to: &buffer)
        case .result(let result):
            buffer.append(result.status.rawValue)
            appendText(result.text, to: &buffer)
        default:
            preconditionFailure("not a fleet-query packet: \(packet)")
        }
    }

    /// A u16 length and the name's UTF-8; names are 1...4096 bytes (checked).
    private static func appendName(_ name: String, to buffer: inout [UInt8]) {
        let length = name.utf8.count
        precondition((1...maximumNameLength).contains(length), "a name must be 1...4096 UTF-8 bytes")
        buffer.appendBigEndian(UInt16(length))
        buffer.append(contentsOf: name.utf8)
    }
}
