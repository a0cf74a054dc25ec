/// The seed's P2MP-FTP packet format ("classic"), byte for byte.
///
/// Data:  32-bit sequence number | 16-bit checksum | 16-bit type 0x5555 | payload
/// ACK:   32-bit sequence number | 16 zero bits    | 16-bit type 0xAAAA
///
/// All fields are big-endian. The checksum is the Internet checksum (RFC 1071) of the
/// header, with the checksum field taken as zero, followed by the payload. Sequence
/// numbers start at 0. A data packet with an empty payload marks the end of the file;
/// see docs/PROTOCOL.md.
public enum ClassicPacket: Equatable, Sendable {
    /// A data segment. `payload` indexes the decoded buffer; it is empty for the end marker.
    case data(sequence: UInt32, payload: Range<Int>)
    /// An acknowledgement of the segment with this sequence number.
    case ack(sequence: UInt32)

    public static let headerSize = 8
    public static let dataType: UInt16 = 0x5555
    public static let ackType: UInt16 = 0xAAAA
    /// The largest payload that fits one IPv4 UDP datagram with this header.
    public static let maximumPayload = 65_507 - headerSize
}

/// Why a datagram is not a valid classic packet.
public enum ClassicDecodingError: Error, Equatable, Sendable {
    /// Shorter than the 8-byte header.
    case truncated(length: Int)
    /// The type field is neither 0x5555 nor 0xAAAA.
    case unknownType(UInt16)
    /// A data packet whose checksum does not match; the sequence number is as received.
    case badChecksum(sequence: UInt32)
    /// An ACK with a payload or a non-zero middle field.
    case malformedAck
}

extension ClassicPacket {
    /// Reads the sequence number and type without validating anything else, so a receiver
    /// can name the sequence number of a data packet it is about to discard.
    public static func peekDataSequence(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count >= headerSize, bytes.loadBigEndianUInt16(at: 6) == dataType else { return nil }
        return bytes.loadBigEndianUInt32(at: 0)
    }

    /// Decodes and validates one datagram.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ClassicDecodingError) -> ClassicPacket {
        guard bytes.count >= headerSize else { throw .truncated(length: bytes.count) }
        let sequence = bytes.loadBigEndianUInt32(at: 0)
        let middle = bytes.loadBigEndianUInt16(at: 4)
        let type = bytes.loadBigEndianUInt16(at: 6)
        switch type {
        case dataType:
            // Summing the whole packet, checksum field included, yields 0 when it is intact.
            guard InternetChecksum.compute(bytes) == 0 else { throw .badChecksum(sequence: sequence) }
            return .data(sequence: sequence, payload: headerSize..<bytes.count)
        case ackType:
            guard bytes.count == headerSize, middle == 0 else { throw .malformedAck }
            return .ack(sequence: sequence)
        default:
            throw .unknownType(type)
        }
    }

    /// The checksum of a data packet with this sequence number and payload.
    public static func dataChecksum(sequence: UInt32, payload: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(doubleWord: sequence)
        checksum.add(word: dataType)
        checksum.add(payload)
        return checksum.value
    }

    /// Appends a complete data packet to `buffer`.
    public static func encodeData(sequence: UInt32, payload: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        let checksum = dataChecksum(sequence: sequence, payload: payload)
        buffer.appendBigEndian(sequence)
        buffer.appendBigEndian(checksum)
        buffer.appendBigEndian(dataType)
        buffer.append(contentsOf: payload)
    }

    /// Writes a complete ACK packet at the start of `destination` (at least 8 bytes,
    /// checked) and returns its size.
    public static func writeAck(sequence: UInt32, to destination: UnsafeMutableRawBufferPointer) -> Int {
        precondition(destination.count >= headerSize, "ACK destination too small")
        destination.storeBytes(of: sequence.bigEndian, toByteOffset: 0, as: UInt32.self)
        destination.storeBytes(of: UInt16(0), toByteOffset: 4, as: UInt16.self)
        destination.storeBytes(of: ackType.bigEndian, toByteOffset: 6, as: UInt16.self)
        return headerSize
    }

    /// A complete ACK packet.
    public static func encodeAck(sequence: UInt32) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(headerSize)
        buffer.appendBigEndian(sequence)
        buffer.appendBigEndian(UInt16(0))
        buffer.appendBigEndian(ackType)
        return buffer
    }
}
