#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What fleet queries (`p2mpsend ls`, `mv`, `rm`) do to the spool. Like everything else
/// here, names are resolved beneath the root without following links.
extension Spool {
    /// A committed file, as a listing shows it.
    public struct ListedFile: Equatable, Sendable {
        public var name: SpoolName
        public var size: UInt64
        /// Seconds since 1970 of the last change.
        public var modified: UInt64
        public var sha256: [UInt8]
    }

    /// At most this many files are listed; a spool is a landing place, not an archive.
    public static let listingLimit = 100_000

    /// Every committed file, in name order. The state directory, symbolic links and
    /// anything but regular files and directories are left out, and so are names a push
    /// could not have created.
    public func listFiles() throws(SpoolError) -> [ListedFile] {
        var files: [ListedFile] = []
        try collect(in: rootDirectory, prefix: "", into: &files)
        return files.sorted { $0.name.rawValue.utf8.lexicographicallyPrecedes($1.name.rawValue.utf8) }
    }

    private func collect(in directory: Directory, prefix: String, into files: inout [ListedFile]) throws(SpoolError) {
        for entry in try directory.entries().sorted() where files.count < Self.listingLimit {
            if prefix.isEmpty, entry == Self.stateDirectoryName { continue }
            guard let name = try? SpoolName(validating: prefix + entry) else { continue }
            switch directory.fileType(entry) {
            case S_IFDIR:
                if let child = try directory.subdirectory(entry, create: false) {
                    try collect(in: child, prefix: name.rawValue + "/", into: &files)
                }
            case S_IFREG:
                guard let existing = try existing(name) else { continue }
                var status = stat()
                guard fstatat(directory.descriptor, entry, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                files.append(
                    ListedFile(
                        name: name, size: existing.size, modified: UInt64(max(0, Self.modificationTime(status).seconds)),
                        sha256: existing.sha256))
            default:
                continue
            }
        }
    }

    /// Renames `from` to `to` (creating `to`'s directories), never replacing a file:
    /// `.exists` when `to` is taken. The metadata sidecar follows the file.
    public func move(_ from: SpoolName, to: SpoolName) throws(SpoolError) {
        guard let source = try rootDirectory.parent(of: from, create: false), source.fileType(from.leaf) == S_IFREG else {
            throw SpoolError("no such file", path: path(of: from), code: ENOENT)
        }
        guard let target = try rootDirectory.parent(of: to, create: true) else {
            throw SpoolError("cannot create the directories of", path: path(of: to), code: ENOENT)
        }
        if let renameWithoutReplacing = RenameNoReplace.function,
            renameWithoutReplacing(source.descriptor, from.leaf, target.descriptor, to.leaf, RenameNoReplace.flag) == 0
        {
            // Renamed atomically.
        } else {
            if errno == EEXIST || target.fileType(to.leaf) != nil { throw .exists(path: path(of: to)) }
            guard renameat(source.descriptor, from.leaf, target.descriptor, to.leaf) == 0 else {
                throw SpoolError("cannot rename to", path: path(of: to))
            }
        }
        try target.sync()
        if source !== target { try source.sync() }
        moveSidecar(from: from, to: to)
    }

    /// Deletes the committed file `name` and its sidecar.
    public func remove(_ name: SpoolName) throws(SpoolError) {
        guard let parent = try rootDirectory.parent(of: name, create: false), parent.fileType(name.leaf) == S_IFREG else {
            throw SpoolError("no such file", path: path(of: name), code: ENOENT)
        }
        guard unlinkat(parent.descriptor, name.leaf, 0) == 0 else {
            throw SpoolError("cannot remove", path: path(of: name))
        }
        try parent.sync()
        unlinkat(metaDirectory.descriptor, MetadataSidecar.fileName(for: name), 0)
    }

    /// Rewrites the sidecar under the new name (it names its file); a missing or unreadable
    /// one is simply dropped, and the file will be hashed when next asked for.
    private func moveSidecar(from: SpoolName, to: SpoolName) {
        let old = MetadataSidecar.fileName(for: from)
        defer { unlinkat(metaDirectory.descriptor, old, 0) }
        guard let bytes = metaDirectory.readSmallFile(old, limit: MetadataSidecar.maximumBytes),
            var sidecar = MetadataSidecar(decoding: bytes)
        else { return }
        sidecar.name = to.rawValue
        try? metaDirectory.writeAtomically(sidecar.encoded(), to: MetadataSidecar.fileName(for: to), durable: true)
    }
}

extension SpoolError {
    /// True when the file named does not exist.
    public var isNotFound: Bool {
        if case .io(let error) = self { return error.code == ENOENT }
        return false
    }
}

extension Spool {
    /// Opens the committed file `name` for sending (`p2mpsend get`), resolved beneath the
    /// root without following links, with its size and SHA-256; nil when there is none.
    public func openForReading(_ name: SpoolName) throws(SpoolError) -> (source: FileSegmentSource, file: ExistingFile)? {
        guard let existing = try existing(name), let parent = try rootDirectory.parent(of: name, create: false),
            let descriptor = try parent.openRegularFile(name.leaf)
        else { return nil }
        do throws(FileSystemError) {
            let source = try FileSegmentSource(descriptor: descriptor, path: parent.path(of: name.leaf))
            guard source.byteCount == existing.size else { return nil }  // Changed meanwhile.
            return (source, existing)
        } catch {
            throw SpoolError(error)
        }
    }
}
