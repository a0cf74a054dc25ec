import Foundation
import P2MPClient
import P2MPSpool
import Testing

/// The sender's file digest with its cache, on a real file and an injected wall clock.
@Suite("File digest and its cache")
struct FileDigestTests {
    static func temporaryFile(bytes: Int) throws -> (directory: URL, file: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-digest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("f.bin")
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: file)
        return (directory, file)
    }

    @Test("a file changed just now is hashed but not remembered; once settled it is, and then read from the cache")
    func settleThenRemember() throws {
        let (directory, file) = try Self.temporaryFile(bytes: 100_000)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = DigestCache(path: directory.appendingPathComponent("cache/sha256").path)
        let source = try FileSegmentSource(path: file.path)
        let identity = try #require(source.identity)

        let fresh = try source.sha256(cache: cache, rehash: false, clock: FileIdentity.Timestamp.now)
        #expect(cache.digest(for: identity) == nil, "a file changed in this clock tick was remembered")

        var later = FileIdentity.Timestamp.now()
        later.seconds += DigestCache.settleSeconds + 1
        let settled = try source.sha256(cache: cache, rehash: false, clock: { later })
        #expect(settled == fresh)
        #expect(cache.digest(for: identity) == fresh.bytes)

        // What the cache says is believed without reading the file: a poisoned entry shows it.
        let poisoned = [UInt8](repeating: 0xAB, count: 32)
        cache.remember(poisoned, for: identity, hashingStarted: later)
        #expect(try source.sha256(cache: cache, rehash: false, clock: { later }).bytes == poisoned)
        #expect(try source.sha256(cache: cache, rehash: true, clock: { later }) == fresh)
        #expect(cache.digest(for: identity) == fresh.bytes)
    }
}
