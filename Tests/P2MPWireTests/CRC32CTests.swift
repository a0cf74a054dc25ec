@testable import P2MPWire
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    /// A bit-at-a-time CRC-32C straight from the definition, to check the sliced tables against.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
            }
        }
        return crc ^ 0xFFFF_FFFF
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { CRC32C.compute($0) }
    }

    @Test("the standard check value: CRC-32C(\"123456789\") = 0xE3069283")
    func checkValue() {
        #expect(Self.crc(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Self.reference(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("no bytes give 0")
    func empty() {
        #expect(Self.crc([]) == 0)
        #expect(CRC32C().value == 0)
    }

    @Test("the iSCSI examples of RFC 3720, appendix B.4")
    func rfc3720Examples() {
        #expect(Self.crc([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(Self.crc([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(Self.crc((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(Self.crc((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    }

    @Test(
        "the CPU instruction (where present) and the sliced tables both agree with the bitwise definition at every length and alignment"
    )
    func matchesReference() {
        var random = SplitMix64(seed: 0xC5C3_2C)
        let bytes = (0..<300).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        bytes.withUnsafeBytes { buffer in
            for start in 0..<8 {
                for end in stride(from: start, through: bytes.count, by: 1) {
                    let slice = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                    let expected = Self.reference(Array(bytes[start..<end]))
                    let tables = CRC32C.softwareUpdate(0xFFFF_FFFF, slice) ^ 0xFFFF_FFFF
                    if CRC32C.compute(slice) != expected || tables != expected {
                        Issue.record("bytes \(start)..<\(end) differ from the reference")
                        return
                    }
                }
            }
        }
    }

    @Test("long buffers, cut around every boundary of the instruction's three-lane passes, agree with the tables")
    func longBuffers() {
        var random = SplitMix64(seed: 0x3_1A4E)
        let bytes = (0..<(4 * 3 * 1_024 + 3 * 128 + 64)).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        // The passes take 3 × 1,024 bytes, then 3 × 128, then words and bytes.
        let boundaries = (1...4).map { $0 * 3 * 1_024 } + (1...3).map { 3 * 1_024 + $0 * 3 * 128 } + [3 * 128, 8_944]
        let lengths = boundaries.flatMap { boundary in (boundary - 9)...(boundary + 9) }.filter { $0 <= bytes.count - 7 }
        bytes.withUnsafeBytes { buffer in
            for start in 0..<8 {
                for length in lengths {
                    let slice = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + length)])
                    let tables = CRC32C.softwareUpdate(0xFFFF_FFFF, slice) ^ 0xFFFF_FFFF
                    #expect(CRC32C.compute(slice) == tables, "bytes \(start)..<\(start + length)")
                }
            }
        }
    }

    @Test("adding in chunks gives the one-shot CRC, wherever the chunks are cut")
    func incremental() {
        var random = SplitMix64(seed: 42)
        let bytes = (0..<100).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        let whole = Self.crc(bytes)
        bytes.withUnsafeBytes { buffer in
            for cut in 0...bytes.count {
                var crc = CRC32C()
                crc.add(UnsafeRawBufferPointer(rebasing: buffer[..<cut]))
                crc.add(UnsafeRawBufferPointer(rebasing: buffer[cut...]))
                #expect(crc.value == whole, "cut at \(cut)")
            }
            for _ in 0..<200 {
                var crc = CRC32C()
                var start = 0
                while start < bytes.count {
                    let end = min(bytes.count, start + Int.random(in: 0...17, using: &random))
                    crc.add(UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
                    start = end
                }
                #expect(crc.value == whole)
            }
        }
    }
}
