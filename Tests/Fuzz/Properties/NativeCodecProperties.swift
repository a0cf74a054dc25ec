import P2MPWire

/// The native v1 codec (docs/PROTOCOL.md), every packet type. Each input is used three ways:
///
/// 1. as a datagram: decoding it never depends on bytes past its end, a decoded datagram
///    encodes back to exactly the same bytes (the format is canonical), and `peekHeader`
///    agrees with `decode`;
/// 2. the same with its CRC-32C trailer made valid, so mutations reach the body checks;
/// 3. as the choices that build a valid datagram: it decodes to what was encoded (texts
///    cut to 1024 bytes at a scalar boundary), re-encodes to the same bytes, and any one
///    flipped bit makes it undecodable.
enum NativeCodecProperties {
    static let transferTypes: [NativePacketType] = [.offer, .accept, .reject, .data, .ack, .complete, .probe, .abort]
    static let fleetTypes: [NativePacketType] = [.list, .listing, .move, .remove, .result, .get]

    static func check(_ bytes: [UInt8], types: [NativePacketType]) throws(PropertyViolation) {
        try checkDecoding(bytes)
        try checkDecoding(withValidChecksum(bytes))
        var input = FuzzInput(bytes)
        try checkRoundTrip(&input, types: types)
    }

    /// Decodes `bytes` from a buffer of exactly their size or, with `padding`, from the
    /// start of a larger buffer whose remaining bytes all hold `padding`.
    static func decode(_ bytes: [UInt8], padding: UInt8? = nil) -> Result<NativeDatagram, NativeDecodingError> {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + (padding == nil ? 0 : 64), alignment: 1)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: padding ?? 0)
        buffer.copyBytes(from: bytes)
        return Result { () throws(NativeDecodingError) in
            try NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<bytes.count]))
        }
    }

    static func checkDecoding(_ bytes: [UInt8]) throws(PropertyViolation) {
        let decoded = decode(bytes)
        for padding: UInt8 in [0x00, 0xFF] {
            try require(decode(bytes, padding: padding) == decoded, "decoding read past the end: \(hex(bytes))")
        }
        let peeked = bytes.withUnsafeBytes { NativeDatagram.peekHeader($0) }
        guard case .success(let datagram) = decoded else {
            if case .failure(.truncated(let length)) = decoded {
                try require(length == bytes.count && length < NativeDatagram.minimumSize, "wrong truncated length")
            }
            return
        }
        try require(peeked == datagram.header, "peekHeader \(String(describing: peeked)) but decode \(datagram.header)")
        if case .data(let segment) = datagram.packet {
            try require(
                segment.payload == NativeDatagram.dataHeaderSize..<bytes.count - NativeDatagram.checksumSize,
                "DATA payload \(segment.payload) is not the bytes between header and CRC")
        }
        var encoded: [UInt8] = []
        bytes.withUnsafeBytes { datagram.encode(into: &encoded, payloadSource: $0) }
        try require(encoded == bytes, "not canonical: \(hex(bytes)) decodes to \(datagram), which encodes as \(hex(encoded))")
    }

    /// `bytes` with the last four replaced by the CRC-32C of the others.
    static func withValidChecksum(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= NativeDatagram.minimumSize else { return bytes }
        var fixed = bytes
        let bodyEnd = bytes.count - NativeDatagram.checksumSize
        let checksum = fixed.withUnsafeBytes { CRC32C.compute(UnsafeRawBufferPointer(rebasing: $0[0..<bodyEnd])) }
        for index in 0..<4 { fixed[bodyEnd + index] = UInt8(truncatingIfNeeded: checksum >> (24 - 8 * index)) }
        return fixed
    }

    static func checkRoundTrip(_ input: inout FuzzInput, types: [NativePacketType]) throws(PropertyViolation) {
        let type = types[Int(input.byte()) % types.count]
        let transferID = input.integer(UInt64.self)
        var payload: [UInt8] = []
        let packet = arbitraryPacket(type, &input, payload: &payload)
        let datagram = NativeDatagram(transferID: transferID, packet: packet)
        var encoded: [UInt8] = []
        payload.withUnsafeBytes { datagram.encode(into: &encoded, payloadSource: $0) }
        guard case .success(let decoded) = decode(encoded) else {
            throw PropertyViolation("\(datagram) encodes as \(hex(encoded)), which does not decode: \(decode(encoded))")
        }
        try require(decoded.transferID == transferID, "transfer id changed")
        switch (packet, decoded.packet) {
        case (.data(let sent), .data(let received)):
            try require(
                sent.segment == received.segment && sent.timestamp == received.timestamp
                    && Array(encoded[received.payload]) == payload,
                "DATA \(sent) came back as \(received)")
        default:
            try require(decoded.packet == expectedAfterEncoding(packet), "\(packet) came back as \(decoded.packet)")
        }
        var again: [UInt8] = []
        encoded.withUnsafeBytes { decoded.encode(into: &again, payloadSource: $0) }
        try require(again == encoded, "re-encoding \(decoded) changed its bytes")
        var corrupted = encoded
        let bit = input.count(upTo: encoded.count * 8 - 1)
        corrupted[bit / 8] ^= 1 << (bit % 8)
        if case .success(let wrong) = decode(corrupted) {
            throw PropertyViolation("flipping bit \(bit) of \(hex(encoded)) still decodes, as \(wrong)")
        }
    }

    /// What decoding an encoded `packet` gives: texts cut to 1024 bytes.
    static func expectedAfterEncoding(_ packet: NativePacket) -> NativePacket {
        switch packet {
        case .reject(var rejection):
            rejection.text = cut(rejection.text)
            return .reject(rejection)
        case .abort(var rejection):
            rejection.text = cut(rejection.text)
            return .abort(rejection)
        case .complete(var completion):
            completion.text = cut(completion.text)
            return .complete(completion)
        case .result(var result):
            result.text = cut(result.text)
            return .result(result)
        default:
            return packet
        }
    }

    /// The longest prefix of whole scalars within `limit` UTF-8 bytes (what a datagram's
    /// text field keeps: 1024 bytes unless said otherwise).
    static func cut(_ text: String, toBytes limit: Int = NativeDatagram.maximumTextLength) -> String {
        var bytes = 0
        var end = text.unicodeScalars.startIndex
        for index in text.unicodeScalars.indices {
            bytes += UTF8.width(text.unicodeScalars[index])
            guard bytes <= limit else { break }
            end = text.unicodeScalars.index(after: index)
        }
        return String(text.unicodeScalars[..<end])
    }

    static func arbitraryPacket(_ type: NativePacketType, _ input: inout FuzzInput, payload: inout [UInt8]) -> NativePacket {
        switch type {
        case .offer:
            return .offer(
                NativeOffer(
                    segmentSize: input.integer(), fileSize: input.integer(), sha256: input.digest(),
                    window: input.integer(), flags: NativeOfferFlags(rawValue: input.integer()), name: input.name()))
        case .accept:
            return .accept(NativeAccept(resumeFrom: input.integer(), window: input.integer(), alreadyComplete: input.boolean()))
        case .reject, .abort:
            let rejection = NativeRejection(reason: NativeRejectReason(rawValue: input.integer()), text: input.longText())
            return type == .reject ? .reject(rejection) : .abort(rejection)
        case .data:
            let segment = input.integer(UInt64.self)
            let timestamp = input.integer(UInt32.self)
            payload = input.bytes(upTo: NativeDatagram.maximumPayload)
            return .data(NativeDataSegment(segment: segment, timestamp: timestamp, payload: 0..<payload.count))
        case .ack:
            let cumulative = input.integer(UInt64.self)
            var ranges = SACKRanges()
            var floor = cumulative
            for _ in 0..<input.count(upTo: NativeDatagram.maximumSACKRanges) {
                let gap = input.boolean() ? input.integer(UInt64.self) : UInt64(input.integer(UInt16.self))
                let (start, late) = floor.addingReportingOverflow(gap)
                let (end, over) = start.addingReportingOverflow(UInt64(input.integer(UInt16.self)) + 1)
                guard !late, !over else { break }
                ranges.append(start..<end)
                floor = end
            }
            return .ack(
                NativeAck(cumulative: cumulative, window: input.integer(), echoTimestamp: input.integer(), selective: ranges))
        case .complete:
            return .complete(
                NativeCompletion(
                    status: NativeCompletionStatus(rawValue: input.byte()), sha256: input.digest(), text: input.longText()))
        case .probe:
            return .probe
        case .list:
            return .list(cursor: input.integer())
        case .listing:
            let total = input.integer(UInt32.self)
            let cursor = input.integer(UInt32.self)
            var entries: [NativeListing.Entry] = []
            for _ in 0..<input.count(upTo: 8) {
                entries.append(
                    NativeListing.Entry(name: input.name(), size: input.integer(), modified: input.integer(), sha256: input.digest()))
            }
            return .listing(NativeListing(total: total, cursor: cursor, entries: entries))
        case .move:
            return .move(from: input.name(), to: input.name())
        case .remove:
            return .remove(name: input.name())
        case .get:
            return .get(name: input.name())
        case .result:
            return .result(NativeResult(status: NativeResult.Status(rawValue: input.byte()), text: input.longText()))
        }
    }
}

extension FuzzInput {
    mutating func digest() -> ContentDigest {
        ContentDigest(words: (integer(), integer(), integer(), integer()))
    }

    /// A name of 1...4096 UTF-8 bytes: mostly short text, sometimes long runs.
    mutating func name() -> String {
        if byte() & 7 == 0 {
            return String(repeating: "n", count: 1 + count(upTo: NativeDatagram.maximumNameLength - 1))
        }
        return text(upTo: 64, nonEmpty: true)
    }

    /// A text that is sometimes longer than the 1024 bytes a datagram carries.
    mutating func longText() -> String {
        if byte() & 7 == 0 {
            return String(repeating: "é", count: count(upTo: 600)) + text(upTo: 8)
        }
        return text(upTo: 64)
    }
}
