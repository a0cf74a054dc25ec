#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The receiver's spool directory: committed files under their names, and the spool's own
/// state in `.p2mp/`.
///
///     ROOT/NAME                           committed files (NAME may hold subdirectories)
///     ROOT/.p2mp/partial/<key>.data       content being received, allocated as it arrives
///     ROOT/.p2mp/partial/<key>.state      the prefix of <key>.data known good
///     ROOT/.p2mp/meta/<sha256(NAME)>.json metadata sidecar of ROOT/NAME
///
/// <key> is `ContentKey.hexKey` ("<sha256 hex>-<size>"). A name is only ever resolved
/// beneath the root with `openat` and O_NOFOLLOW, one component at a time, so a symbolic
/// link planted in the spool cannot redirect a read or a write outside it.
///
/// One per daemon. Its state is descriptors, opened once, and sets under locks, so lookups
/// (`existing`, `listFiles`, which may hash) can run off the event loop while the loop uses
/// it; a `PartialFile` is used by one thread at a time.
public final class Spool: Sendable {
    /// The root as configured.
    public let root: String
    let rootDirectory: Directory
    let partialDirectory: Directory
    let metaDirectory: Directory
    let openPartials = PartialKeys()
    /// The content keys with a partial on disk, open or not (kept as partials come and go).
    let partialsOnDisk = PartialKeys()
    /// Digests of files hashed because no sidecar described them (placed by hand, say), so
    /// that repeated listings and offers do not hash them again.
    let hashedFiles = DigestMemory()

    /// The name of the spool's state directory under the root.
    public static let stateDirectoryName = SpoolName.reservedComponent

    /// Opens the spool at `root`, creating it and `.p2mp/partial` and `.p2mp/meta` when missing.
    public init(root: String) throws(FileSystemError) {
        let rootDirectory = try Directory.openCreatingParents(root, mode: 0o755)
        do throws(SpoolError) {
            let state = try Self.stateSubdirectory(Self.stateDirectoryName, of: rootDirectory)
            self.partialDirectory = try Self.stateSubdirectory("partial", of: state)
            self.metaDirectory = try Self.stateSubdirectory("meta", of: state)
        } catch {
            throw error.fileSystemError
        }
        self.root = root
        self.rootDirectory = rootDirectory
        for entry in (try? partialDirectory.entries()) ?? [] {
            if let key = Self.partialKey(ofEntry: entry), entry.hasSuffix(".data") { partialsOnDisk.insert(key) }
        }
    }

    /// Partials on disk: what `max_partials` caps.
    public var partialCount: Int { partialsOnDisk.count }

    /// Whether a partial of `content` is on disk (a push of it resumes instead of adding one).
    public func hasPartial(for content: ContentKey) -> Bool { partialsOnDisk.contains(content.hexKey) }

    private static func stateSubdirectory(_ name: String, of parent: Directory) throws(SpoolError) -> Directory {
        guard let directory = try parent.subdirectory(name, create: true, mode: 0o700) else {
            throw SpoolError("cannot create directory", path: parent.path(of: name), code: ENOENT)
        }
        return directory
    }

    /// Where `name` is (or will be) committed, for messages and logs.
    public func path(of name: SpoolName) -> String {
        rootDirectory.path(of: name.rawValue)
    }

    /// The bytes an unprivileged process may still write on the spool's file system
    /// (f_bavail × f_frsize); 0 when it cannot be told.
    public func freeBytes() -> UInt64 {
        var status = statvfs()
        guard fstatvfs(rootDirectory.descriptor, &status) == 0 else { return 0 }
        return UInt64(status.f_bavail).multipliedReportingOverflow(by: UInt64(status.f_frsize)).partialValue
    }

    /// Bytes the partial of `content` already occupies on disk (allocated as data arrived),
    /// so a resumed push needs only the rest; 0 when there is none.
    public func reservedBytes(for content: ContentKey) -> UInt64 {
        var status = stat()
        guard fstatat(partialDirectory.descriptor, content.hexKey + ".data", &status, AT_SYMLINK_NOFOLLOW) == 0,
            status.st_mode & S_IFMT == S_IFREG
        else { return 0 }
        return min(UInt64(max(0, status.st_blocks)) * 512, content.size)
    }

    // MARK: committed files

    /// The size and SHA-256 of what is committed under `name`, nil when nothing is. The
    /// digest comes from the sidecar while it still describes the file (same inode, size
    /// and modification time); otherwise the file is hashed, which reads all of it.
    ///
    /// A symbolic link on the way or as the file is `.outsideSpool`; a directory where a
    /// file or a directory should be is `.io` (EISDIR, ENOTDIR): a commit would fail too.
    public func existing(_ name: SpoolName) throws(SpoolError) -> ExistingFile? {
        guard let parent = try rootDirectory.parent(of: name, create: false),
            let file = try parent.openRegularFile(name.leaf)
        else { return nil }
        defer { close(file) }
        let path = parent.path(of: name.leaf)
        let identity = try Self.identity(of: file, path: path)
        if let bytes = metaDirectory.readSmallFile(
            MetadataSidecar.fileName(for: name), limit: MetadataSidecar.maximumBytes),
            let sidecar = MetadataSidecar(decoding: bytes),
            let digest = sidecar.digest(ifDescribing: identity, named: name)
        {
            return ExistingFile(size: identity.size, sha256: digest, metadata: sidecar.metadata)
        }
        if let digest = hashedFiles.digest(of: name, identity: identity) {
            return ExistingFile(size: identity.size, sha256: digest, metadata: nil)
        }
        do throws(FileSystemError) {
            let digest = try FileDigest.sha256(descriptor: file, length: identity.size, path: path)
            hashedFiles.remember(digest, of: name, identity: identity)
            return ExistingFile(size: identity.size, sha256: digest, metadata: nil)
        } catch {
            throw SpoolError(error)
        }
    }

    // MARK: partials

    /// The partial for `content`: the one left by an earlier run (its recorded prefix as
    /// `verifiedBytes`, reset to 0 when the data file is shorter than the prefix) or a new,
    /// empty one. Disk space is taken as data arrives (`PartialFile.reserve`), not here, so
    /// an offer that never sends data costs two small files and no space. A content already
    /// open in this spool fails with EBUSY.
    public func openPartial(for content: ContentKey) throws(SpoolError) -> PartialFile {
        let key = content.hexKey
        let dataName = key + ".data"
        let dataPath = partialDirectory.path(of: dataName)
        guard !openPartials.contains(key) else {
            throw SpoolError("partial already open", path: dataPath, code: EBUSY)
        }
        guard content.size <= UInt64(Int64.max) else {
            throw SpoolError("cannot allocate \(content.size) bytes for", path: dataPath, code: EFBIG)
        }
        let file = openat(partialDirectory.descriptor, dataName, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        if file >= 0 {
            return try resumePartial(content, descriptor: file)
        }
        guard errno == ENOENT else {
            throw errno == ELOOP ? .outsideSpool(path: dataPath) : SpoolError("cannot open", path: dataPath)
        }
        return try createPartial(content)
    }

    /// As `openPartial(for:)`; `size` must be `content.size` (EINVAL otherwise).
    public func openPartial(for content: ContentKey, size: UInt64) throws(SpoolError) -> PartialFile {
        guard size == content.size else {
            throw SpoolError(
                "size \(size) differs from the content's \(content.size) for",
                path: partialDirectory.path(of: content.hexKey + ".data"), code: EINVAL)
        }
        return try openPartial(for: content)
    }

    private func resumePartial(_ content: ContentKey, descriptor file: Int32) throws(SpoolError) -> PartialFile {
        let stateName = content.hexKey + ".state"
        let dataPath = partialDirectory.path(of: content.hexKey + ".data")
        var status = stat()
        guard fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            let error = SpoolError("not a regular file", path: dataPath, code: EINVAL)
            close(file)
            throw error
        }
        let dataSize = UInt64(status.st_size)
        let recorded = partialDirectory.readSmallFile(stateName, limit: PartialState.maximumBytes)
            .flatMap(PartialState.init(decoding:))
        var prefix: UInt64 = 0
        if let recorded, recorded.size == content.size, recorded.prefix <= dataSize {
            prefix = recorded.prefix
        }
        do throws(SpoolError) {
            if dataSize > content.size, ftruncate(file, off_t(content.size)) != 0 {
                throw SpoolError("cannot truncate", path: dataPath)
            }
            if recorded?.prefix != prefix || recorded?.size != content.size {
                try partialDirectory.writeAtomically(
                    PartialState(size: content.size, prefix: prefix).encoded(), to: stateName, durable: false)
            }
        } catch {
            close(file)
            throw error
        }
        return PartialFile(
            content: content, directory: partialDirectory, descriptor: file, verifiedBytes: prefix,
            allocatedBytes: min(dataSize, content.size), registry: openPartials, onDisk: partialsOnDisk)
    }

    private func createPartial(_ content: ContentKey) throws(SpoolError) -> PartialFile {
        let dataName = content.hexKey + ".data"
        let dataPath = partialDirectory.path(of: dataName)
        let file = openat(
            partialDirectory.descriptor, dataName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw SpoolError("cannot create", path: dataPath) }
        do throws(SpoolError) {
            try partialDirectory.writeAtomically(
                PartialState(size: content.size, prefix: 0).encoded(), to: content.hexKey + ".state", durable: false)
        } catch {
            close(file)
            unlinkat(partialDirectory.descriptor, dataName, 0)
            throw error
        }
        partialsOnDisk.insert(content.hexKey)
        return PartialFile(
            content: content, directory: partialDirectory, descriptor: file, verifiedBytes: 0, allocatedBytes: 0,
            registry: openPartials, onDisk: partialsOnDisk)
    }

    /// Removes the partials of this spool whose files were all last modified more than
    /// `seconds` before `now` (seconds since the epoch); open partials are kept. Returns
    /// how many partials (data, state, or both) were removed.
    public func removeStalePartials(olderThan seconds: Double, now: Double) throws(SpoolError) -> Int {
        let cutoff = now - seconds
        var newest: [String: Double] = [:]
        var files: [String: [String]] = [:]
        for entry in try partialDirectory.entries() {
            guard let key = Self.partialKey(ofEntry: entry) else { continue }
            var status = stat()
            guard fstatat(partialDirectory.descriptor, entry, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let modified = Double(Self.modificationTime(status).seconds)
                + Double(Self.modificationTime(status).nanoseconds) / 1e9
            newest[key] = max(newest[key] ?? -.infinity, modified)
            files[key, default: []].append(entry)
        }
        var removed = 0
        for (key, modified) in newest where modified < cutoff && !openPartials.contains(key) {
            for entry in files[key] ?? [] { unlinkat(partialDirectory.descriptor, entry, 0) }
            partialsOnDisk.remove(key)
            removed += 1
        }
        return removed
    }

    /// Removes the partials that hold no data (nothing was ever written to them: an offer
    /// that never sent data, left by a crash) and were last touched more than `seconds` ago;
    /// open ones are kept. Returns how many were removed.
    public func removeEmptyPartials(olderThan seconds: Double) throws(SpoolError) -> Int {
        let cutoff = Self.now() - seconds
        var removed = 0
        for entry in try partialDirectory.entries() where entry.hasSuffix(".data") {
            guard let key = Self.partialKey(ofEntry: entry), !openPartials.contains(key) else { continue }
            var status = stat()
            guard fstatat(partialDirectory.descriptor, entry, &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_size == 0,
                Double(Self.modificationTime(status).seconds) < cutoff
            else { continue }
            for name in [entry, key + ".state", "." + key + ".state.tmp"] { unlinkat(partialDirectory.descriptor, name, 0) }
            partialsOnDisk.remove(key)
            removed += 1
        }
        return removed
    }

    /// Seconds since the epoch.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// As `removeStalePartials(olderThan:now:)` with the current time.
    public func removeStalePartials(olderThan seconds: Double) throws(SpoolError) -> Int {
        try removeStalePartials(olderThan: seconds, now: Self.now())
    }

    /// The content key of a file in the partial directory ("<key>.data", "<key>.state",
    /// ".<key>.state.tmp"), nil for anything else.
    static func partialKey(ofEntry entry: String) -> String? {
        for (prefix, suffix) in [("", ".data"), ("", ".state"), (".", ".state.tmp")]
        where entry.hasPrefix(prefix) && entry.hasSuffix(suffix) {
            let key = entry.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count)
            let isKey =
                key.count > 65 && key.allSatisfy { byte in
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || byte == UInt8(ascii: "-")
                }
            if isKey { return String(decoding: key, as: UTF8.self) }
        }
        return nil
    }

    // MARK: file identity

    static func modificationTime(_ status: stat) -> (seconds: Int64, nanoseconds: Int64) {
        #if canImport(Darwin)
        (Int64(status.st_mtimespec.tv_sec), Int64(status.st_mtimespec.tv_nsec))
        #else
        (Int64(status.st_mtim.tv_sec), Int64(status.st_mtim.tv_nsec))
        #endif
    }

    static func identity(of file: Int32, path: String) throws(SpoolError) -> FileIdentity {
        var status = stat()
        guard fstat(file, &status) == 0 else { throw SpoolError("cannot stat", path: path) }
        return FileIdentity(status)
    }
}

extension SpoolError {
    /// The failed call, as a `FileSystemError` (ENOSPC, ELOOP, EEXIST for the named cases).
    var fileSystemError: FileSystemError {
        switch self {
        case .exists(let path): FileSystemError("already exists", path: path, code: EEXIST)
        case .outsideSpool(let path): FileSystemError("name resolves outside the spool", path: path, code: ELOOP)
        case .noSpace(let path): FileSystemError("no space for", path: path, code: ENOSPC)
        case .io(let error), .metadataNotWritten(let error): error
        }
    }
}
