import Foundation
@testable import P2MPSpool
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Partial files")
struct PartialFileTests {
    static func fileSize(_ path: String) -> UInt64? {
        var status = stat()
        return stat(path, &status) == 0 ? UInt64(status.st_size) : nil
    }

    @Test("a new partial takes no space until data arrives, starts at 0, and reads back what was written")
    func newPartial() throws {
        let fixture = try SpoolFixture()
        let content = pattern(100_000)
        #expect(fixture.spool.partialCount == 0 && !fixture.spool.hasPartial(for: key(content)))
        let partial = try fixture.spool.openPartial(for: key(content))
        #expect(partial.verifiedBytes == 0)
        #expect(partial.path == fixture.file(".p2mp/partial/\(key(content).hexKey).data"))
        #expect(Self.fileSize(partial.path) == 0)
        #expect(fixture.spool.partialCount == 1 && fixture.spool.hasPartial(for: key(content)))
        #expect(FileManager.default.fileExists(atPath: fixture.file(".p2mp/partial/\(key(content).hexKey).state")))
        try partial.reserve(through: 1)
        #expect(Self.fileSize(partial.path) == 100_000, "allocated a step ahead, never beyond the size")

        // Out of order, as segments arrive.
        try content[50_000...].withUnsafeBytes { buffer in try partial.write(buffer, at: 50_000) }
        try content[..<50_000].withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
        var back = [UInt8](repeating: 0, count: 1000)
        try back.withUnsafeMutableBytes { buffer in try partial.read(at: 49_500, into: buffer) }
        #expect(back == Array(content[49_500..<50_500]))
        #expect(try partial.sha256() == key(content).sha256)
        #expect(try partial.sha256(ofFirst: 3) == key(Array(content[..<3])).sha256)
    }

    @Test("writes and reads beyond the content's size are refused")
    func bounds() throws {
        let fixture = try SpoolFixture()
        let partial = try fixture.spool.openPartial(for: key(pattern(100)))
        let write = spoolError {
            try pattern(10).withUnsafeBytes { buffer in try partial.write(buffer, at: 95) }
        }
        #expect(write?.code == EINVAL)
        let far = spoolError {
            try pattern(1).withUnsafeBytes { buffer in try partial.write(buffer, at: .max) }
        }
        #expect(far?.code == EINVAL)
        var buffer = [UInt8](repeating: 0, count: 2)
        let read = spoolError {
            try buffer.withUnsafeMutableBytes { buffer in try partial.read(at: 99, into: buffer) }
        }
        #expect(read?.code == EINVAL)
        #expect(Self.fileSize(partial.path) == 0, "nothing written, nothing allocated")
        let progress = spoolError { try partial.recordProgress(contiguousBytes: 101) }
        #expect(progress?.code == EINVAL)
    }

    @Test("after a crash (the object dropped uncommitted) the recorded prefix is resumed")
    func resume() throws {
        let fixture = try SpoolFixture()
        let content = pattern(300_000, seed: 3)
        do {
            let partial = try fixture.spool.openPartial(for: key(content))
            try content[..<200_000].withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
            try partial.recordProgress(contiguousBytes: 120_000)
            #expect(partial.verifiedBytes == 120_000)
            // Written but not recorded: resumed from the record, not from what is on disk.
        }
        let partial = try fixture.spool.openPartial(for: key(content))
        #expect(partial.verifiedBytes == 120_000)
        var back = [UInt8](repeating: 0, count: 120_000)
        try back.withUnsafeMutableBytes { buffer in try partial.read(at: 0, into: buffer) }
        #expect(back == Array(content[..<120_000]))

        try content[200_000...].withUnsafeBytes { buffer in try partial.write(buffer, at: 200_000) }
        try content[..<200_000].withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
        try partial.recordProgress(contiguousBytes: 300_000)
        try fixture.spool.commit(
            partial, as: SpoolName(validating: "resumed"), metadata: metadata(content), replacing: false)
        #expect(fixture.contents("resumed") == content)
    }

    @Test("the same content cannot be open twice")
    func openTwice() throws {
        let fixture = try SpoolFixture()
        let content = pattern(1000)
        let first = try fixture.spool.openPartial(for: key(content))
        let error = spoolError { try fixture.spool.openPartial(for: key(content)) }
        #expect(error?.code == EBUSY)
        _ = first
    }

    @Test("partials that hold no byte are reclaimed by the sweep, unless open; the others stay")
    func emptyPartialsAreReclaimed() throws {
        let fixture = try SpoolFixture()
        let empty = pattern(1000)
        let written = pattern(2000)
        let open = pattern(3000)
        do { _ = try fixture.spool.openPartial(for: key(empty)) }
        do {
            let partial = try fixture.spool.openPartial(for: key(written))
            try written[..<10].withUnsafeBytes { buffer in
                try partial.reserve(through: 10)
                try partial.write(buffer, at: 0)
            }
        }
        let stillOpen = try fixture.spool.openPartial(for: key(open))
        #expect(fixture.spool.partialCount == 3)
        #expect(try fixture.spool.removeEmptyPartials(olderThan: -1) == 1)
        #expect(fixture.spool.partialCount == 2)
        #expect(!fixture.spool.hasPartial(for: key(empty)) && fixture.spool.hasPartial(for: key(written)))
        #expect(stillOpen.isOpen && fixture.spool.hasPartial(for: key(open)))
    }

    @Test("a state claiming more than the data holds is reset to 0")
    func stateBeyondData() throws {
        let fixture = try SpoolFixture()
        let content = pattern(1000)
        let statePath = fixture.file(".p2mp/partial/\(key(content).hexKey).state")
        let dataPath: String
        do {
            let partial = try fixture.spool.openPartial(for: key(content))
            try content.withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
            try partial.recordProgress(contiguousBytes: 1000)
            dataPath = partial.path
        }
        #expect(truncate(dataPath, 500) == 0)
        let partial = try fixture.spool.openPartial(for: key(content))
        #expect(partial.verifiedBytes == 0)
        #expect(Self.fileSize(dataPath) == 500)  // allocated again as data arrives
        #expect(try String(contentsOfFile: statePath, encoding: .utf8) == "p2mp-partial 1\nsize 1000\nprefix 0\n")
    }

    @Test(
        "a damaged or foreign state file resumes from 0",
        arguments: [
            "", "garbage", "p2mp-partial 1\nsize 1000\nprefix 1001\n", "p2mp-partial 1\nsize 999\nprefix 10\n",
            "p2mp-partial 1\nsize 1000\nprefix -5\n", "p2mp-partial 2\nsize 1000\nprefix 10\n",
            "p2mp-partial 1\nsize 1000\nprefix 10", "p2mp-partial 1\nsize 1000\nprefix 10\nextra\n",
        ])
    func damagedState(_ state: String) throws {
        let fixture = try SpoolFixture()
        let content = pattern(1000)
        do { _ = try fixture.spool.openPartial(for: key(content)) }
        try state.write(
            toFile: fixture.file(".p2mp/partial/\(key(content).hexKey).state"), atomically: false, encoding: .utf8)
        #expect(try fixture.spool.openPartial(for: key(content)).verifiedBytes == 0)
    }

    @Test("data without a state file resumes from 0; a lower prefix can be recorded")
    func missingStateAndLowering() throws {
        let fixture = try SpoolFixture()
        let content = pattern(1000)
        do {
            let partial = try fixture.spool.openPartial(for: key(content))
            try partial.reserve(through: 1000)
            try partial.recordProgress(contiguousBytes: 800)
            try partial.recordProgress(contiguousBytes: 300)  // the caller found bad bytes past 300
            #expect(partial.verifiedBytes == 300)
        }
        #expect(try fixture.spool.openPartial(for: key(content)).verifiedBytes == 300)
        try FileManager.default.removeItem(atPath: fixture.file(".p2mp/partial/\(key(content).hexKey).state"))
        #expect(try fixture.spool.openPartial(for: key(content)).verifiedBytes == 0)
    }

    @Test("discard removes the data and the state")
    func discard() throws {
        let fixture = try SpoolFixture()
        let partial = try fixture.spool.openPartial(for: key(pattern(1000)))
        try partial.recordProgress(contiguousBytes: 10)
        partial.discard()
        #expect(!partial.isOpen)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.file(".p2mp/partial")) == [])
        #expect(try fixture.spool.openPartial(for: key(pattern(1000))).verifiedBytes == 0)
    }

    @Test("openPartial(for:size:) checks the size against the key")
    func sizeCheck() throws {
        let fixture = try SpoolFixture()
        let content = pattern(10)
        let error = spoolError { try fixture.spool.openPartial(for: key(content), size: 11) }
        #expect(error?.code == EINVAL)
        #expect(try fixture.spool.openPartial(for: key(content), size: 10).size == 10)
    }

    @Test("content keys: 32-byte digests only, a stable file-name key")
    func contentKey() {
        #expect(ContentKey(sha256: [UInt8](repeating: 1, count: 31), size: 1) == nil)
        #expect(ContentKey(sha256Hex: "zz", size: 1) == nil)
        let key = ContentKey(sha256: [UInt8](repeating: 0xAB, count: 32), size: 42)
        #expect(key?.hexKey == String(repeating: "ab", count: 32) + "-42")
        #expect(ContentKey(sha256Hex: String(repeating: "AB", count: 32), size: 42) == key)
    }

    @Test("stale partials are removed, open and recent ones kept")
    func removeStale() throws {
        let fixture = try SpoolFixture()
        let old = pattern(100, seed: 1)
        let recent = pattern(100, seed: 2)
        let open = pattern(100, seed: 3)
        do {
            _ = try fixture.spool.openPartial(for: key(old))
            _ = try fixture.spool.openPartial(for: key(recent))
        }
        let kept = try fixture.spool.openPartial(for: key(open))
        let partials = fixture.file(".p2mp/partial")
        _ = FileManager.default.createFile(atPath: partials + "/unrelated", contents: Data())
        for entry in try FileManager.default.contentsOfDirectory(atPath: partials)
        where !entry.hasPrefix(key(recent).hexKey) {
            setModificationTime(partials + "/" + entry, seconds: 1_000_000)
        }
        let now = Date().timeIntervalSince1970
        #expect(try fixture.spool.removeStalePartials(olderThan: 3600, now: now) == 1)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: partials))
        #expect(
            left == [
                "\(key(recent).hexKey).data", "\(key(recent).hexKey).state", "\(key(open).hexKey).data",
                "\(key(open).hexKey).state", "unrelated",
            ])
        #expect(try fixture.spool.removeStalePartials(olderThan: 0, now: now + 10) == 1)  // recent, not the open one
        #expect(kept.isOpen)
        #expect(try fixture.spool.removeStalePartials(olderThan: 3600) == 0)
    }

    @Test("partial directory entries map to their content key")
    func partialKeys() {
        let key = String(repeating: "0f", count: 32) + "-123"
        #expect(Spool.partialKey(ofEntry: key + ".data") == key)
        #expect(Spool.partialKey(ofEntry: key + ".state") == key)
        #expect(Spool.partialKey(ofEntry: "." + key + ".state.tmp") == key)
        #expect(Spool.partialKey(ofEntry: "unrelated") == nil)
        #expect(Spool.partialKey(ofEntry: ".data") == nil)
        #expect(Spool.partialKey(ofEntry: key + ".other") == nil)
    }
}
