import P2MPWire
import Testing

@Suite("Native fleet-query packets")
struct NativeFleetCodecTests {
    static let digest = ContentDigest(Array(0..<32))!

    static let packets: [NativePacket] = [
        .list(cursor: 0),
        .list(cursor: .max),
        .listing(NativeListing(total: 0, cursor: 0, entries: [])),
        .listing(
            NativeListing(
                total: 3, cursor: 1,
                entries: [
                    .init(name: "releases/app-1.4.2.tar.gz", size: 12_345, modified: 1_795_000_000, sha256: digest),
                    .init(name: "é", size: 0, modified: 0, sha256: .zero),
                ])),
        .move(from: "a.bin", to: "dir/b.bin"),
        .remove(name: "a.bin"),
        .get(name: "releases/app.tar"),
        .result(NativeResult(status: .done, text: "renamed")),
        .result(NativeResult(status: .refused, text: "")),
        .result(NativeResult(status: .notFound)),
        .result(NativeResult(status: .exists)),
        .result(NativeResult(status: .failed, text: "disk")),
        .result(NativeResult(status: .authenticationRequired)),
        .result(NativeResult(status: .unknown(9), text: "?")),
    ]

    @Test("every fleet packet round-trips", arguments: packets)
    func roundTrip(_ packet: NativePacket) throws {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: 77, packet: packet).encode(into: &bytes)
        let decoded = try bytes.withUnsafeBytes { try NativeDatagram.decode($0) }
        #expect(decoded == NativeDatagram(transferID: 77, packet: packet))
    }

    @Test("every truncation and every bit flip of a fleet packet is rejected", arguments: packets)
    func damage(_ packet: NativePacket) {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: 5, packet: packet).encode(into: &bytes)
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            #expect((try? prefix.withUnsafeBytes { try NativeDatagram.decode($0) }) == nil, "prefix \(length)")
        }
        for bit in 0..<bytes.count * 8 {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect((try? flipped.withUnsafeBytes { try NativeDatagram.decode($0) }) == nil, "bit \(bit)")
        }
    }

    @Test("a listing page that claims more entries than it holds is an error")
    func lyingListing() {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: 1, packet: .listing(NativeListing(total: 1, cursor: 0, entries: []))).encode(into: &bytes)
        // Raise the entry count (bytes 20-21) to 1 and fix the CRC: the entry is missing.
        bytes[21] = 1
        bytes.removeLast(4)
        let crc = bytes.withUnsafeBytes { CRC32C.compute($0) }
        bytes.appendBigEndian(crc)
        #expect(throws: NativeDecodingError.self) { try bytes.withUnsafeBytes { try NativeDatagram.decode($0) } }
    }
}

extension NativePacket: CustomTestStringConvertible {
    public var testDescription: String { "\(type)" }
}
