import P2MPWire

/// The seed's classic format. Each input is used as a datagram (decoding does not depend on
/// bytes past the end; what decodes encodes back to the same bytes; `peekDataSequence`
/// agrees), again with its checksum made valid, and as the choices of a data packet and an
/// ACK that must decode to what was encoded.
enum ClassicCodecProperties {
    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        try checkDecoding(bytes)
        try checkDecoding(withValidChecksum(bytes))
        var input = FuzzInput(bytes)
        try checkRoundTrip(&input)
    }

    static func decode(_ bytes: [UInt8], padding: UInt8? = nil) -> Result<ClassicPacket, ClassicDecodingError> {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + (padding == nil ? 0 : 64), alignment: 1)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: padding ?? 0)
        buffer.copyBytes(from: bytes)
        return Result { () throws(ClassicDecodingError) in
            try ClassicPacket.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<bytes.count]))
        }
    }

    static func checkDecoding(_ bytes: [UInt8]) throws(PropertyViolation) {
        let decoded = decode(bytes)
        for padding: UInt8 in [0x00, 0xFF] {
            try require(decode(bytes, padding: padding) == decoded, "decoding read past the end: \(hex(bytes))")
        }
        let peeked = bytes.withUnsafeBytes { ClassicPacket.peekDataSequence($0) }
        switch decoded {
        case .success(.data(let sequence, let payload)):
            try require(peeked == sequence, "peekDataSequence \(String(describing: peeked)) for data \(sequence)")
            try require(payload == ClassicPacket.headerSize..<bytes.count, "payload \(payload) is not all after the header")
            var encoded: [UInt8] = []
            bytes.withUnsafeBytes { ClassicPacket.encodeData(sequence: sequence, payload: UnsafeRawBufferPointer(rebasing: $0[payload]), into: &encoded) }
            // One's complement has two zeros: a sum of 0xFFFF verifies with a checksum field of
            // 0x0000 (what the encoder writes) and of 0xFFFF. That is the only freedom.
            var canonical = bytes
            if bytes[4] == 0xFF && bytes[5] == 0xFF && encoded[4] == 0 && encoded[5] == 0 {
                canonical[4] = 0
                canonical[5] = 0
            }
            try require(encoded == canonical, "not canonical: \(hex(bytes)) encodes back as \(hex(encoded))")
        case .success(.ack(let sequence)):
            try require(ClassicPacket.encodeAck(sequence: sequence) == bytes, "ACK \(hex(bytes)) is not canonical")
            try require(peeked == nil, "peekDataSequence reads an ACK as data")
        case .failure(.badChecksum(let sequence)):
            try require(peeked == sequence, "peekDataSequence \(String(describing: peeked)) for a damaged \(sequence)")
        case .failure(.truncated(let length)):
            try require(length == bytes.count && length < ClassicPacket.headerSize, "wrong truncated length")
        case .failure(.unknownType), .failure(.malformedAck):
            try require(peeked == nil, "peekDataSequence reads a non-data packet as data")
        }
    }

    /// A data packet's checksum field recomputed; an 8-byte ACK's middle field cleared.
    static func withValidChecksum(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= ClassicPacket.headerSize else { return bytes }
        var fixed = bytes
        let type = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        if type == ClassicPacket.dataType {
            let sequence = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
            let checksum = bytes.withUnsafeBytes {
                ClassicPacket.dataChecksum(sequence: sequence, payload: UnsafeRawBufferPointer(rebasing: $0[8...]))
            }
            fixed[4] = UInt8(checksum >> 8)
            fixed[5] = UInt8(checksum & 0xFF)
        } else if type == ClassicPacket.ackType && bytes.count == ClassicPacket.headerSize {
            fixed[4] = 0
            fixed[5] = 0
        }
        return fixed
    }

    static func checkRoundTrip(_ input: inout FuzzInput) throws(PropertyViolation) {
        let sequence = input.integer(UInt32.self)
        let payload = input.bytes(upTo: ClassicPacket.maximumPayload)
        var encoded: [UInt8] = []
        payload.withUnsafeBytes { ClassicPacket.encodeData(sequence: sequence, payload: $0, into: &encoded) }
        guard case .success(.data(sequence, let range)) = decode(encoded), Array(encoded[range]) == payload else {
            throw PropertyViolation("data \(sequence) with \(payload.count) bytes came back as \(decode(encoded))")
        }
        let ack = ClassicPacket.encodeAck(sequence: sequence)
        try require(decode(ack) == .success(.ack(sequence: sequence)), "ACK \(sequence) came back as \(decode(ack))")
        var corrupted = encoded
        let bit = input.count(upTo: encoded.count * 8 - 1)
        corrupted[bit / 8] ^= 1 << (bit % 8)
        if case .success(.data(sequence, let range)) = decode(corrupted), Array(corrupted[range]) == payload {
            throw PropertyViolation("flipping bit \(bit) of \(hex(encoded)) went unnoticed")
        }
    }
}
