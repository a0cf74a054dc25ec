import Crypto
import Foundation
import Testing

@testable import P2MPSpool

/// `p2mpsend get`'s file: written in any order, hashed as its prefix grows, renamed into
/// place only when the digest matches.
@Suite("Download files")
struct DownloadFileTests {
    static let segment = 1_000

    /// Writes `bytes` in segments, in `order`, telling the file how far it is complete.
    func write(_ bytes: [UInt8], order: [Int], into file: DownloadFile) throws {
        var held = Set<Int>()
        var firstMissing = 0
        for index in order {
            held.insert(index)
            while held.contains(firstMissing) { firstMissing += 1 }
            let range = (index * Self.segment)..<min((index + 1) * Self.segment, bytes.count)
            try bytes[range].withUnsafeBytes {
                try file.write($0, at: UInt64(range.lowerBound), contiguous: UInt64(min(firstMissing * Self.segment, bytes.count)))
            }
        }
    }

    @Test("segments in any order commit when the digest matches, and the file holds them")
    func outOfOrder() throws {
        let directory = try TemporaryDirectory("p2mp-download")
        let bytes = (0..<25_500).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 8) }
        let destination = directory.path + "/got.bin"
        let file = try DownloadFile(destination: destination, size: UInt64(bytes.count))
        var order = Array(0..<26)
        var random = SystemRandomNumberGenerator()
        order.shuffle(using: &random)
        try write(bytes, order: order, into: file)
        #expect(try file.commit(expectedSHA256: Array(SHA256.hash(data: bytes))))
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: destination))) == bytes)
    }

    @Test("a digest that does not match leaves nothing under the destination name")
    func mismatch() throws {
        let directory = try TemporaryDirectory("p2mp-download")
        let bytes = [UInt8](repeating: 7, count: 5_000)
        let destination = directory.path + "/got.bin"
        let file = try DownloadFile(destination: destination, size: UInt64(bytes.count))
        try write(bytes, order: [4, 3, 2, 1, 0], into: file)
        #expect(try !file.commit(expectedSHA256: Array(SHA256.hash(data: [UInt8](repeating: 8, count: 5_000)))))
        #expect(!FileManager.default.fileExists(atPath: destination))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
