import Foundation
import Testing

@testable import P2MPSpool

/// p2mpsend's cache of file digests: an entry is found only for exactly the file version
/// it was made for, only settled files are remembered, and the file stays bounded.
@Suite("Digest cache")
struct DigestCacheTests {
    static let longAgo = FileIdentity.Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789)
    static let now = FileIdentity.Timestamp(seconds: 1_800_000_000, nanoseconds: 0)

    static func identity(inode: UInt64 = 77, changed: FileIdentity.Timestamp = longAgo) -> FileIdentity {
        FileIdentity(device: 2049, inode: inode, size: 1 << 30, modified: longAgo, changed: changed)
    }

    static func digest(_ byte: UInt8) -> [UInt8] { Array(repeating: byte, count: 32) }

    func withCache(_ body: (DigestCache) throws -> Void) throws {
        let directory = try TemporaryDirectory("p2mp-digest-cache")
        try body(DigestCache(path: directory.path + "/nested/p2mp/sha256"))
    }

    @Test("a remembered digest is found for the same file version only")
    func exactMatch() throws {
        try withCache { cache in
            let identity = Self.identity()
            cache.remember(Self.digest(1), for: identity, hashingStarted: Self.now)
            #expect(cache.digest(for: identity) == Self.digest(1))
            var changed = [identity, identity, identity, identity, identity]
            changed[0].device += 1
            changed[1].inode += 1
            changed[2].size -= 1
            changed[3].modified.nanoseconds += 1
            changed[4].changed.seconds += 1
            for other in changed { #expect(cache.digest(for: other) == nil, "\(other)") }
        }
    }

    @Test("a file changed shortly before hashing started is not remembered")
    func unsettled() throws {
        try withCache { cache in
            var recent = FileIdentity.Timestamp(seconds: Self.now.seconds - DigestCache.settleSeconds, nanoseconds: 5)
            cache.remember(Self.digest(2), for: Self.identity(changed: recent), hashingStarted: Self.now)
            #expect(cache.digest(for: Self.identity(changed: recent)) == nil)
            recent.seconds -= 1
            cache.remember(Self.digest(2), for: Self.identity(changed: recent), hashingStarted: Self.now)
            #expect(cache.digest(for: Self.identity(changed: recent)) == Self.digest(2))
        }
    }

    @Test("a new digest for the same inode replaces the old one, and only the newest entries are kept")
    func bounded() throws {
        try withCache { cache in
            cache.remember(Self.digest(3), for: Self.identity(inode: 1), hashingStarted: Self.now)
            var changed = Self.identity(inode: 1)
            changed.size += 1
            cache.remember(Self.digest(4), for: changed, hashingStarted: Self.now)
            #expect(cache.entries().count == 1)
            #expect(cache.digest(for: changed) == Self.digest(4))

            for inode in 2...UInt64(DigestCache.capacity + 10) {
                cache.remember(Self.digest(5), for: Self.identity(inode: inode), hashingStarted: Self.now)
            }
            #expect(cache.entries().count == DigestCache.capacity)
            #expect(cache.digest(for: changed) == nil)
            #expect(cache.digest(for: Self.identity(inode: UInt64(DigestCache.capacity + 10))) == Self.digest(5))
        }
    }

    @Test("malformed lines and foreign files are ignored, never trusted")
    func malformed() throws {
        try withCache { cache in
            let identity = Self.identity()
            cache.remember(Self.digest(6), for: identity, hashingStarted: Self.now)
            let good = try String(contentsOfFile: cache.path, encoding: .utf8)
            let line = try #require(good.split(separator: "\n").last)
            let broken = [
                line.replacingOccurrences(of: " ", with: "  "),
                String(line.dropLast()),
                line + " extra",
                line.replacingOccurrences(of: ".123456789 ", with: ".1234567890 "),
                "2049 77 x 1.1 1.1 " + String(repeating: "00", count: 32),
            ]
            try ("p2mp-digest-cache 1\n" + broken.joined(separator: "\n") + "\n").write(
                toFile: cache.path, atomically: true, encoding: .utf8)
            #expect(cache.entries().isEmpty)
            try ("something else\n" + line + "\n").write(toFile: cache.path, atomically: true, encoding: .utf8)
            #expect(cache.digest(for: identity) == nil)
            try String(repeating: "#", count: DigestCache.largestFile + 1).write(
                toFile: cache.path, atomically: true, encoding: .utf8)
            #expect(cache.digest(for: identity) == nil)
            cache.remember(Self.digest(7), for: identity, hashingStarted: Self.now)  // Starts over.
            #expect(cache.digest(for: identity) == Self.digest(7))
        }
    }

    @Test("the cache lives under XDG_CACHE_HOME, else under HOME, else nowhere")
    func location() {
        let both = ["XDG_CACHE_HOME": "/x", "HOME": "/home/op"]
        #expect(DigestCache.forUser(environment: { both[$0] })?.path == "/x/p2mp/sha256")
        let home = ["XDG_CACHE_HOME": "relative", "HOME": "/home/op"]
        #expect(DigestCache.forUser(environment: { home[$0] })?.path == "/home/op/.cache/p2mp/sha256")
        #expect(DigestCache.forUser(environment: { _ in nil }) == nil)
    }

    @Test("a file's identity changes when its bytes do, even with its modification time put back")
    func identityOfRealFile() throws {
        let directory = try TemporaryDirectory("p2mp-identity")
        let path = directory.path + "/f"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        let before = try #require(try FileSegmentSource(path: path).identity)
        // File times come from the kernel's coarse clock: wait until it has moved past the
        // file's change time, so the write below gives the file a new one.
        var coarse = timespec()
        repeat {
            sched_yield()
            clock_gettime(CLOCK_REALTIME_COARSE, &coarse)
        } while (Int64(coarse.tv_sec), Int64(coarse.tv_nsec)) <= (before.changed.seconds, before.changed.nanoseconds)
        let descriptor = open(path, O_WRONLY)
        try #require(descriptor >= 0)
        #expect(pwrite(descriptor, [UInt8(4)], 1, 2) == 1)
        let times = [
            timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2),  // UTIME_OMIT: the access time stays.
            timespec(tv_sec: Int(before.modified.seconds), tv_nsec: Int(before.modified.nanoseconds)),
        ]
        #expect(futimens(descriptor, times) == 0)
        close(descriptor)
        let after = try #require(try FileSegmentSource(path: path).identity)
        #expect(after.inode == before.inode && after.size == before.size && after.modified == before.modified)
        #expect(after.changed != before.changed)
    }
}
