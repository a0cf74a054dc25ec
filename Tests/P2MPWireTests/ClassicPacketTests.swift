import P2MPWire
import Testing

@Suite("Classic wire format")
struct ClassicPacketTests {
    static let vectors = (try? DocumentedVector.load()) ?? []

    @Test("docs/PROTOCOL.md carries classic test vectors")
    func documentHasVectors() throws {
        let vectors = try DocumentedVector.load()
        #expect(vectors.filter { $0.format == "classic" && $0.kind == "data" }.count >= 3)
        #expect(vectors.contains { $0.format == "classic" && $0.kind == "ack" })
    }

    @Test("encoding matches the documented vector", arguments: vectors.filter { $0.format == "classic" })
    func encodesVector(_ vector: DocumentedVector) {
        switch vector.kind {
        case "data":
            var encoded: [UInt8] = []
            vector.payload.withUnsafeBytes {
                ClassicPacket.encodeData(sequence: vector.sequence, payload: $0, into: &encoded)
            }
            #expect(encoded == vector.packet)
        default:
            #expect(ClassicPacket.encodeAck(sequence: vector.sequence) == vector.packet)
        }
    }

    @Test("decoding the documented vector gives back its fields", arguments: vectors.filter { $0.format == "classic" })
    func decodesVector(_ vector: DocumentedVector) throws {
        let decoded = try vector.packet.withUnsafeBytes { try ClassicPacket.decode($0) }
        switch decoded {
        case .data(let sequence, let payload):
            #expect(vector.kind == "data")
            #expect(sequence == vector.sequence)
            #expect(Array(vector.packet[payload]) == vector.payload)
        case .ack(let sequence):
            #expect(vector.kind == "ack")
            #expect(sequence == vector.sequence)
        }
    }

    @Test("every single-bit flip of a data packet is detected or changes only the type")
    func detectsBitFlips() throws {
        var packet: [UInt8] = []
        Array("flip me, please".utf8).withUnsafeBytes {
            ClassicPacket.encodeData(sequence: 7, payload: $0, into: &packet)
        }
        for bit in 0..<packet.count * 8 {
            var damaged = packet
            damaged[bit / 8] ^= UInt8(1 << (bit % 8))
            let result = Result { try damaged.withUnsafeBytes { try ClassicPacket.decode($0) } }
            guard case .failure = result else {
                Issue.record("bit \(bit) flipped went undetected: \(result)")
                continue
            }
        }
    }

    @Test("short, unknown and malformed datagrams are errors, never crashes")
    func rejectsMalformed() {
        func decode(_ bytes: [UInt8]) -> Result<ClassicPacket, ClassicDecodingError> {
            bytes.withUnsafeBytes { buffer in
                Result { () throws(ClassicDecodingError) in try ClassicPacket.decode(buffer) }
            }
        }
        #expect(decode([]) == .failure(.truncated(length: 0)))
        #expect(decode([0, 0, 0, 1, 0, 0, 0x55]) == .failure(.truncated(length: 7)))
        #expect(decode([0, 0, 0, 1, 0, 0, 0x12, 0x34]) == .failure(.unknownType(0x1234)))
        #expect(decode([0, 0, 0, 1, 0, 1, 0xAA, 0xAA]) == .failure(.malformedAck))
        #expect(decode([0, 0, 0, 1, 0, 0, 0xAA, 0xAA, 9]) == .failure(.malformedAck))
        #expect(decode([0, 0, 0, 1, 0, 0, 0x55, 0x55]) == .failure(.badChecksum(sequence: 1)))
    }

    @Test("the checksum of RFC 1071's worked example")
    func rfc1071Example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is 220d.
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        #expect(bytes.withUnsafeBytes { InternetChecksum.compute($0) } == 0x220D)
    }
}
