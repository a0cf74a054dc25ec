import Foundation
import P2MPSpool
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("A full file system")
struct FullFileSystemTests {
    /// Needs root, to mount a small tmpfs; reported as skipped without it.
    @Test(
        "a partial larger than the free space opens, and fails with .noSpace when its data does not fit",
        .enabled(if: getuid() == 0, "not running as root, cannot mount a small tmpfs"))
    func noSpace() throws {
        let directory = try TemporaryDirectory()
        let mountPoint = directory.path + "/tmpfs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        let mounted = mount("tmpfs", mountPoint, "tmpfs", 0, "size=1m")
        try #require(mounted == 0, "mount -t tmpfs -o size=1m failed: \(String(cString: strerror(errno)))")
        defer { umount2(mountPoint, Int32(MNT_DETACH)) }

        do {
            let spool = try Spool(root: mountPoint + "/spool")
            #expect(spool.freeBytes() <= 1 << 20)
            let content = ContentKey(sha256: [UInt8](repeating: 0x5A, count: 32), size: 4 << 20)!
            let large = try spool.openPartial(for: content)
            let dataPath = mountPoint + "/spool/.p2mp/partial/\(content.hexKey).data"
            let error = spoolError { try large.reserve(through: 2 << 20) }
            #expect(error == .noSpace(path: dataPath))
            #expect(error?.description.contains(dataPath) == true)
            large.discard()
            #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint + "/spool/.p2mp/partial") == [])

            // What fits still works.
            let small = pattern(100_000)
            let partial = try spool.openPartial(for: key(small))
            try small.withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
            try spool.commit(partial, as: SpoolName(validating: "small"), metadata: metadata(small), replacing: false)
            #expect(FileManager.default.contents(atPath: mountPoint + "/spool/small").map(Array.init) == small)
        }
    }
}
