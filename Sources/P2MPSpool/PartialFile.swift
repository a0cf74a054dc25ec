import Crypto
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data of one content being received: `.p2mp/partial/<key>.data`, allocated as data
/// arrives (`reserve`), and `<key>.state`, the prefix known good.
///
/// Made by `Spool.openPartial`; ends with `Spool.commit` or `discard()`. Dropped without
/// either (the daemon stops, a session times out), it stays on disk and the next
/// `openPartial` for the same content resumes it. Like `Spool`, not thread-safe.
///
/// Crash safety of the prefix: `recordProgress` fdatasyncs the data before it writes a
/// larger prefix into the state file, so the recorded prefix is always durable data. The
/// state file itself is not fsynced: after a crash the prefix read back may be older than
/// the data (those bytes are received again), never newer.
public final class PartialFile {
    public let content: ContentKey
    /// The data file.
    public let path: String
    /// The prefix of the data known good: what the state file records.
    public private(set) var verifiedBytes: UInt64

    let directory: Directory
    let registry: PartialKeys
    let onDisk: PartialKeys
    private(set) var descriptor: Int32
    /// Bytes of the data file allocated from its start (`reserve`).
    private var allocatedBytes: UInt64
    var dataName: String { content.hexKey + ".data" }
    var stateName: String { content.hexKey + ".state" }

    init(
        content: ContentKey, directory: Directory, descriptor: Int32, verifiedBytes: UInt64, allocatedBytes: UInt64,
        registry: PartialKeys, onDisk: PartialKeys
    ) {
        self.content = content
        self.directory = directory
        self.descriptor = descriptor
        self.verifiedBytes = verifiedBytes
        self.allocatedBytes = allocatedBytes
        self.registry = registry
        self.onDisk = onDisk
        self.path = directory.path(of: content.hexKey + ".data")
        registry.insert(content.hexKey)
    }

    /// Space is allocated this many bytes ahead of the data, at most.
    public static let allocationStep: UInt64 = 32 << 20

    /// Allocates the data file through at least `end` bytes (posix_fallocate), in steps of
    /// `allocationStep` and never beyond `size`, so that the disk fills as data arrives and
    /// a write never meets a full disk halfway: `.noSpace` on ENOSPC and EDQUOT.
    public func reserve(through end: UInt64) throws(SpoolError) {
        let file = try openDescriptor()
        guard end > allocatedBytes else { return }
        let target = min(size, max(end, allocatedBytes + Self.allocationStep))
        var result: Int32
        repeat {
            result = posix_fallocate(file, off_t(allocatedBytes), off_t(target - allocatedBytes))
        } while result == EINTR
        guard result == 0 else {
            throw SpoolError("cannot allocate \(target) bytes for", path: path, code: result)
        }
        allocatedBytes = target
    }

    deinit {
        closeDescriptor()
    }

    /// The content's size: writes and reads stay below it.
    public var size: UInt64 { content.size }

    /// Whether it can still be written: not yet committed or discarded.
    public var isOpen: Bool { descriptor >= 0 }

    /// Writes `bytes` at `offset`; fails with EINVAL beyond `size`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SpoolError) {
        let file = try openDescriptor()
        try checkRange(offset, bytes.count, "write")
        try FileIO.writeAll(file, bytes, at: offset, path: path)
    }

    /// Fills `buffer` with the bytes at `offset`; fails with EINVAL beyond `size`.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SpoolError) {
        let file = try openDescriptor()
        try checkRange(offset, buffer.count, "read")
        try FileIO.readAll(file, into: buffer, at: offset, path: path)
    }

    /// Feeds bytes `range` to `hasher`, read back from the file.
    public func updateDigest(_ hasher: inout SHA256, over range: Range<UInt64>) throws(SpoolError) {
        let file = try openDescriptor()
        try checkRange(range.lowerBound, Int(clamping: range.count), "hash")
        do throws(FileSystemError) {
            try FileDigest.update(&hasher, descriptor: file, range: range, path: path)
        } catch {
            throw SpoolError(error)
        }
    }

    /// SHA-256 of the first `length` bytes (all of them by default), streamed.
    public func sha256(ofFirst length: UInt64? = nil) throws(SpoolError) -> [UInt8] {
        var hasher = SHA256()
        try updateDigest(&hasher, over: 0..<(length ?? size))
        return Array(hasher.finalize())
    }

    /// Records that the first `contiguousBytes` are good, for a resume after a restart.
    /// A larger prefix first fdatasyncs the data (see the type's note); a smaller one
    /// (the caller found bad bytes) is recorded as is. Meant to be called every few MB.
    public func recordProgress(contiguousBytes: UInt64) throws(SpoolError) {
        let file = try openDescriptor()
        guard contiguousBytes <= size else {
            throw SpoolError("progress beyond the end of", path: path, code: EINVAL)
        }
        guard contiguousBytes != verifiedBytes else { return }
        if contiguousBytes > verifiedBytes, fdatasync(file) != 0 {
            throw SpoolError("cannot sync", path: path)
        }
        try directory.writeAtomically(
            PartialState(size: size, prefix: contiguousBytes).encoded(), to: stateName, durable: false)
        verifiedBytes = contiguousBytes
    }

    /// Removes the data and the state; nothing remains to resume.
    public func discard() {
        closeDescriptor()
        unlinkat(directory.descriptor, dataName, 0)
        unlinkat(directory.descriptor, stateName, 0)
        unlinkat(directory.descriptor, "." + stateName + ".tmp", 0)
        onDisk.remove(content.hexKey)
    }

    /// Closes the data file (it is then the committed file, or left to resume).
    func closeDescriptor() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        registry.remove(content.hexKey)
    }

    private func openDescriptor() throws(SpoolError) -> Int32 {
        guard descriptor >= 0 else { throw SpoolError("already committed or discarded", path: path, code: EBADF) }
        return descriptor
    }

    private func checkRange(_ offset: UInt64, _ count: Int, _ operation: String) throws(SpoolError) {
        guard offset <= size, UInt64(count) <= size - offset else {
            throw SpoolError("\(operation) beyond the end (\(size) bytes) of", path: path, code: EINVAL)
        }
    }
}

/// A set of content keys shared by a spool and its partials, under a lock (a partial may be
/// closed on a storage queue): the open ones (one writer per partial, and the sweeps leave
/// them alone), and those on disk (what `max_partials` counts).
final class PartialKeys: Sendable {
    private let keys = Mutex<Set<String>>([])

    func insert(_ key: String) { keys.withLock { _ = $0.insert(key) } }
    func remove(_ key: String) { keys.withLock { _ = $0.remove(key) } }
    func contains(_ key: String) -> Bool { keys.withLock { $0.contains(key) } }
    var count: Int { keys.withLock { $0.count } }
}
