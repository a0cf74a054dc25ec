// Encoding and decoding of native v1 datagrams. Layouts in NativePacket.swift and
// docs/PROTOCOL.md.

extension NativeDatagram {
    /// The fixed-size part of each body, before any name, text, SACK ranges or payload.
    static let offerFixedSize = 4 + 8 + ContentDigest.byteCount + 4 + 4 + 2
    static let acceptSize = 8 + 4 + 1
    static let rejectionFixedSize = 2 + 2
    static let dataFixedSize = 8 + 4
    static let ackFixedSize = 8 + 4 + 4 + 1
    static let sackRangeSize = 8 + 8
    static let completionFixedSize = 1 + ContentDigest.byteCount + 2

    // MARK: Peeking

    /// Reads the type and transfer id for routing. Checks the length, magic, version and that
    /// the type is known, but not the CRC nor the body: decode before trusting anything else.
    public static func peekHeader(_ bytes: UnsafeRawBufferPointer) -> NativeHeader? {
        guard let transferID = peekTransferID(bytes), let type = NativePacketType(rawValue: bytes[3]) else {
            return nil
        }
        return NativeHeader(type: type, transferID: transferID)
    }

    /// Reads the transfer id for routing. Checks only the length, magic and version, not the
    /// CRC: decode before trusting anything else.
    public static func peekTransferID(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count >= minimumSize, bytes.loadBigEndianUInt16(at: 0) == magic, bytes[2] == version else {
            return nil
        }
        return unvalidatedTransferID(bytes)
    }

    /// Bytes 4..<12; the caller checked the length.
    private static func unvalidatedTransferID(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var reader = NativeReader(bytes, from: 4, to: headerSize)
        return reader.readUInt64()
    }

    // MARK: Decoding

    /// Decodes and validates one untrusted datagram.
    ///
    /// Checks, in order: the length (at least 16 bytes), magic, version, CRC-32C, type, then
    /// the body. Never traps and allocates nothing proportional to a declared length before
    /// checking it against the datagram. A `.data` packet's payload is a range of `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(NativeDecodingError) -> NativeDatagram {
        let count = bytes.count
        guard count >= minimumSize else { throw .truncated(length: count) }
        let receivedMagic = bytes.loadBigEndianUInt16(at: 0)
        guard receivedMagic == magic else { throw .badMagic(receivedMagic) }
        guard bytes[2] == version else { throw .unsupportedVersion(bytes[2]) }
        let bodyEnd = count - checksumSize
        let checksum = CRC32C.compute(UnsafeRawBufferPointer(rebasing: bytes[0..<bodyEnd]))
        guard checksum == bytes.loadBigEndianUInt32(at: bodyEnd) else { throw .badChecksum }
        guard let type = NativePacketType(rawValue: bytes[3]) else { throw .unknownType(bytes[3]) }
        let transferID = unvalidatedTransferID(bytes)
        var body = NativeReader(bytes, from: headerSize, to: bodyEnd)
        let packet = try decodeBody(type, &body)
        return NativeDatagram(transferID: transferID, packet: packet)
    }

    private static func decodeBody(
        _ type: NativePacketType, _ body: inout NativeReader
    ) throws(NativeDecodingError) -> NativePacket {
        let length = body.remaining
        func require(_ valid: Bool) throws(NativeDecodingError) {
            if !valid { throw .wrongBodyLength(type: type, length: length) }
        }
        switch type {
        case .offer:
            try require(length >= offerFixedSize)
            let segmentSize = body.readUInt32()
            let fileSize = body.readUInt64()
            let sha256 = body.readDigest()
            let window = body.readUInt32()
            let flags = NativeOfferFlags(rawValue: body.readUInt32())
            let nameLength = Int(body.readUInt16())
            guard (1...maximumNameLength).contains(nameLength) else {
                throw .nameLengthOutOfRange(length: nameLength)
            }
            try require(body.remaining == nameLength)
            let name = try body.readString()
            return .offer(
                NativeOffer(
                    segmentSize: segmentSize, fileSize: fileSize, sha256: sha256, window: window, flags: flags,
                    name: name))
        case .accept:
            try require(length == acceptSize)
            let resumeFrom = body.readUInt64()
            let window = body.readUInt32()
            let alreadyComplete = body.readUInt8()
            guard alreadyComplete <= 1 else { throw .invalidAlreadyComplete(alreadyComplete) }
            return .accept(NativeAccept(resumeFrom: resumeFrom, window: window, alreadyComplete: alreadyComplete == 1))
        case .reject, .abort:
            try require(length >= rejectionFixedSize)
            let reason = NativeRejectReason(rawValue: body.readUInt16())
            let text = try decodeText(&body, require: require)
            let rejection = NativeRejection(reason: reason, text: text)
            return type == .reject ? .reject(rejection) : .abort(rejection)
        case .data:
            try require(length >= dataFixedSize)
            let segment = body.readUInt64()
            let timestamp = body.readUInt32()
            guard body.remaining <= maximumPayload else { throw .payloadTooLong(length: body.remaining) }
            return .data(NativeDataSegment(segment: segment, timestamp: timestamp, payload: body.offset..<body.end))
        case .ack:
            try require(length >= ackFixedSize)
            let cumulative = body.readUInt64()
            let window = body.readUInt32()
            let echoTimestamp = body.readUInt32()
            let sackCount = Int(body.readUInt8())
            guard sackCount <= maximumSACKRanges else { throw .tooManySACKRanges(count: sackCount) }
            try require(body.remaining == sackCount * sackRangeSize)
            var selective = SACKRanges()
            var floor = cumulative
            for index in 0..<sackCount {
                let start = body.readUInt64()
                let end = body.readUInt64()
                guard start >= floor, start < end else { throw .invalidSACKRange(index: index) }
                selective.append(start..<end)
                floor = end
            }
            return .ack(
                NativeAck(cumulative: cumulative, window: window, echoTimestamp: echoTimestamp, selective: selective))
        case .complete:
            try require(length >= completionFixedSize)
            let status = NativeCompletionStatus(rawValue: body.readUInt8())
            let sha256 = body.readDigest()
            let textLength = Int(body.readUInt16())
            guard textLength <= maximumTextLength else { throw .textTooLong(length: textLength) }
            let hasReception = body.remaining == textLength + receptionSize
            try require(body.remaining == textLength || hasReception)
            let text = try body.readString(length: textLength)
            let reception = hasReception ? readReception(&body) : nil
            return .complete(NativeCompletion(status: status, sha256: sha256, text: text, reception: reception))
        case .probe:
            try require(length == 0)
            return .probe
        case .list: return try decodeList(&body, require: require)
        case .listing: return try decodeListing(&body, require: require)
        case .move: return try decodeMove(&body, require: require)
        case .remove: return .remove(name: try decodeOnlyName(&body, require: require))
        case .get: return .get(name: try decodeOnlyName(&body, require: require))
        case .result: return try decodeResult(&body, require: require)
        }
    }

    /// A u16 length and exactly that many bytes of UTF-8, ending the body.
    static func decodeText(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> String {
        let textLength = Int(body.readUInt16())
        guard textLength <= maximumTextLength else { throw .textTooLong(length: textLength) }
        try require(body.remaining == textLength)
        return try body.readString()
    }

    // MARK: Encoding

    /// Appends the complete datagram, CRC included, to `buffer`.
    ///
    /// A `.data` packet's payload is `payloadSource[payload]`: pass the buffer it was decoded
    /// from, or use `encodeData(transferID:segment:timestamp:payload:into:)`. Other packets
    /// ignore `payloadSource`. Texts longer than 1024 UTF-8 bytes are cut at a Unicode scalar
    /// boundary. Preconditions (programming errors, checked): an OFFER name of 1...4096
    /// UTF-8 bytes; a DATA payload of at most 65,000 bytes within `payloadSource`; SACK ranges
    /// as `NativeAck.selective` describes.
    public func encode(
        into buffer: inout [UInt8],
        payloadSource: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) {
        switch packet {
        case .data(let data):
            precondition(
                data.payload.lowerBound >= 0 && data.payload.upperBound <= payloadSource.count,
                "DATA payload range outside its source buffer")
            Self.encodeData(
                transferID: transferID, segment: data.segment, timestamp: data.timestamp,
                payload: UnsafeRawBufferPointer(rebasing: payloadSource[data.payload]), into: &buffer)
            return
        case .ack(let ack):
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: Self.ackDatagramSize(sackRanges: ack.selective.count)))
            buffer.withUnsafeMutableBytes { bytes in
                _ = Self.writeAck(transferID: transferID, ack, to: UnsafeMutableRawBufferPointer(rebasing: bytes[start...]))
            }
            return
        default:
            break
        }
        let start = buffer.count
        Self.appendHeader(type: packet.type, transferID: transferID, to: &buffer)
        switch packet {
        case .offer(let offer):
            let nameLength = offer.name.utf8.count
            precondition((1...Self.maximumNameLength).contains(nameLength), "OFFER name must be 1...4096 UTF-8 bytes")
            buffer.reserveCapacity(start + Self.headerSize + Self.offerFixedSize + nameLength + Self.checksumSize)
            buffer.appendBigEndian(offer.segmentSize)
            buffer.appendBigEndian(offer.fileSize)
            offer.sha256.append(to: &buffer)
            buffer.appendBigEndian(offer.window)
            buffer.appendBigEndian(offer.flags.rawValue)
            buffer.appendBigEndian(UInt16(nameLength))
            buffer.append(contentsOf: offer.name.utf8)
        case .accept(let accept):
            buffer.appendBigEndian(accept.resumeFrom)
            buffer.appendBigEndian(accept.window)
            buffer.append(accept.alreadyComplete ? 1 : 0)
        case .reject(let rejection), .abort(let rejection):
            buffer.appendBigEndian(rejection.reason.rawValue)
            Self.appendText(rejection.text, to: &buffer)
        case .complete(let completion):
            buffer.append(completion.status.rawValue)
            completion.sha256.append(to: &buffer)
            Self.appendText(completion.text, to: &buffer)
            if let reception = completion.reception { Self.appendReception(reception, to: &buffer) }
        case .list(let cursor): buffer.appendBigEndian(cursor)
        case .listing(let listing): Self.appendListing(listing, to: &buffer)
        case .move(let from, let to):
            Self.appendName(from, to: &buffer)
            Self.appendName(to, to: &buffer)
        case .remove(let name), .get(let name): Self.appendName(name, to: &buffer)
        case .result(let result):
            buffer.append(result.status.rawValue)
            Self.appendText(result.text, to: &buffer)
        case .probe, .data, .ack:
            break
        }
        Self.appendChecksum(to: &buffer, from: start)
    }

    /// Appends a complete DATA datagram, CRC included, straight from a payload buffer: the
    /// sender's hot path. `payload` holds at most 65,000 bytes (checked).
    public static func encodeData(
        transferID: UInt64, segment: UInt64, timestamp: UInt32, payload: UnsafeRawBufferPointer,
        into buffer: inout [UInt8]
    ) {
        let start = buffer.count
        let size = dataDatagramSize(payload: payload.count)
        buffer.append(contentsOf: repeatElement(0, count: size))
        buffer.withUnsafeMutableBytes { bytes in
            _ = writeData(
                transferID: transferID, segment: segment, timestamp: timestamp, payload: payload,
                to: UnsafeMutableRawBufferPointer(rebasing: bytes[start...]))
        }
    }

    /// The size of a DATA datagram carrying `payload` bytes.
    public static func dataDatagramSize(payload: Int) -> Int { dataHeaderSize + payload + checksumSize }

    /// Writes a complete DATA datagram, CRC included, at the start of `destination` (which
    /// holds at least `dataDatagramSize(payload:)` bytes, checked) and returns its size: the
    /// sender's hot path, filling a socket buffer with no intermediate copy. `payload` holds
    /// at most 65,000 bytes (checked).
    public static func writeData(
        transferID: UInt64, segment: UInt64, timestamp: UInt32, payload: UnsafeRawBufferPointer,
        to destination: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(payload.count <= maximumPayload, "DATA payload over 65,000 bytes")
        let size = dataDatagramSize(payload: payload.count)
        precondition(destination.count >= size, "DATA destination too small")
        destination.storeBytes(of: magic.bigEndian, toByteOffset: 0, as: UInt16.self)
        destination[2] = version
        destination[3] = NativePacketType.data.rawValue
        destination.storeBytes(of: transferID.bigEndian, toByteOffset: 4, as: UInt64.self)
        destination.storeBytes(of: segment.bigEndian, toByteOffset: headerSize, as: UInt64.self)
        destination.storeBytes(of: timestamp.bigEndian, toByteOffset: headerSize + 8, as: UInt32.self)
        if let source = payload.baseAddress, let target = destination.baseAddress {
            (target + dataHeaderSize).copyMemory(from: source, byteCount: payload.count)
        }
        let bodyEnd = size - checksumSize
        let checksum = CRC32C.compute(UnsafeRawBufferPointer(rebasing: destination[0..<bodyEnd]))
        destination.storeBytes(of: checksum.bigEndian, toByteOffset: bodyEnd, as: UInt32.self)
        return size
    }

    private static func appendHeader(type: NativePacketType, transferID: UInt64, to buffer: inout [UInt8]) {
        buffer.appendBigEndian(magic)
        buffer.append(version)
        buffer.append(type.rawValue)
        buffer.appendBigEndian(transferID)
    }

    /// Appends the CRC-32C of `buffer[start...]`.
    private static func appendChecksum(to buffer: inout [UInt8], from start: Int) {
        let checksum = buffer.withUnsafeBytes { CRC32C.compute(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        buffer.appendBigEndian(checksum)
    }

    /// Appends a u16 length and the text's UTF-8, cut to at most 1024 bytes at a scalar boundary.
    static func appendText(_ text: String, to buffer: inout [UInt8]) {
        let utf8 = text.utf8
        var length = utf8.count
        if length > maximumTextLength {
            length = maximumTextLength
            // Step back over continuation bytes (10xxxxxx) so no scalar is split.
            while length > 0, utf8[utf8.index(utf8.startIndex, offsetBy: length)] & 0xC0 == 0x80 {
                length -= 1
            }
        }
        buffer.appendBigEndian(UInt16(length))
        buffer.append(contentsOf: utf8.prefix(length))
    }
}

/// Sequential big-endian reads over `bytes[offset..<end]`. Reads do not check bounds: the
/// decoder checks the remaining length before each group of reads.
struct NativeReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, from offset: Int, to end: Int) {
        self.bytes = bytes
        self.offset = offset
        self.end = end
    }

    var remaining: Int { end - offset }

    mutating func readUInt8() -> UInt8 {
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() -> UInt16 {
        defer { offset += 2 }
        return bytes.loadBigEndianUInt16(at: offset)
    }

    mutating func readUInt32() -> UInt32 {
        defer { offset += 4 }
        return bytes.loadBigEndianUInt32(at: offset)
    }

    mutating func readUInt64() -> UInt64 {
        let high = readUInt32()
        return UInt64(high) << 32 | UInt64(readUInt32())
    }

    mutating func readDigest() -> ContentDigest {
        ContentDigest(words: (readUInt64(), readUInt64(), readUInt64(), readUInt64()))
    }

    /// The next `length` bytes as validated UTF-8; the caller checked they are there.
    mutating func readString(length: Int) throws(NativeDecodingError) -> String {
        let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
        guard let text else { throw .invalidUTF8 }
        offset += length
        return text
    }

    /// The rest of the body as validated UTF-8.
    mutating func readString() throws(NativeDecodingError) -> String {
        let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), as: UTF8.self)
        guard let text else { throw .invalidUTF8 }
        offset = end
        return text
    }
}
