import Foundation
import P2MPSpool
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system's temporary directory, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "p2mp-spool") throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A spool in a temporary directory, with helpers to push content into it.
final class SpoolFixture {
    let directory: TemporaryDirectory
    let root: String
    let spool: Spool

    init() throws {
        directory = try TemporaryDirectory()
        root = directory.path + "/spool"
        spool = try Spool(root: root)
    }

    /// An open partial holding all of `bytes`.
    func received(_ bytes: [UInt8]) throws -> PartialFile {
        let partial = try spool.openPartial(for: key(bytes))
        try bytes.withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
        return partial
    }

    /// Receives and commits `bytes` as `name`.
    func commit(_ bytes: [UInt8], as name: String, replacing: Bool = false) throws {
        let partial = try received(bytes)
        try spool.commit(partial, as: SpoolName(validating: name), metadata: metadata(bytes), replacing: replacing)
    }

    func file(_ relative: String) -> String { root + "/" + relative }

    func contents(_ relative: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file(relative)).map(Array.init)
    }

    func exists(_ relative: String) -> Bool {
        var status = stat()
        return lstat(file(relative), &status) == 0
    }
}

func key(_ bytes: [UInt8]) -> ContentKey {
    ContentKey(sha256Hex: FileDigest.sha256Hex(bytes), size: UInt64(bytes.count))!
}

func metadata(_ bytes: [UInt8], sender: String = "192.0.2.7:40000", senderKey: String? = nil) -> FileMetadata {
    FileMetadata(
        sender: sender, transferID: 0xDEAD_BEEF_0000_0001, size: UInt64(bytes.count),
        sha256: FileDigest.sha256Hex(bytes), startTime: 1_700_000_000.25, endTime: 1_700_000_003.5,
        senderKey: senderKey)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Deterministic pseudo-random bytes.
func pattern(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// The `SpoolError` `body` throws, nil when it returns (another error is an issue).
func spoolError<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) -> SpoolError? {
    do {
        _ = try body()
        return nil
    } catch let error as SpoolError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The errno of an `.io` error.
extension SpoolError {
    var code: Int32? {
        if case .io(let error) = self { error.code } else { nil }
    }
}

/// Sets a file's modification time (not following a symbolic link).
func setModificationTime(_ path: String, seconds: Int) {
    var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
    _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
}
