#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open directory (closed on deinit) and lookups beneath it that never follow a
/// symbolic link: each step is an `openat` relative to the previous one with O_NOFOLLOW,
/// so what is opened is inside the directory whatever the names say.
final class Directory: Sendable {
    let descriptor: Int32
    /// For messages only; never used to open anything beneath.
    let path: String

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
    }

    /// Opens `path` (following symbolic links: this is the operator's configured path),
    /// creating it and its missing parents with `mode` first.
    static func openCreatingParents(_ path: String, mode: mode_t) throws(FileSystemError) -> Directory {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0, errno != EEXIST {
                throw FileSystemError("cannot create directory", path: prefix)
            }
            prefix += "/"
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError("cannot open directory", path: path) }
        return Directory(descriptor: descriptor, path: path)
    }

    func path(of name: String) -> String {
        path.hasSuffix("/") ? path + name : path + "/" + name
    }

    /// The subdirectory `name`, nil when it does not exist and `create` is false. With
    /// `create`, a missing one is made (and this directory synced, so the new entry is
    /// durable). A symbolic link is `.outsideSpool`, a non-directory ENOTDIR.
    func subdirectory(_ name: String, create: Bool, mode: mode_t = 0o755) throws(SpoolError) -> Directory? {
        if create {
            if mkdirat(descriptor, name, mode) == 0 {
                try sync()
            } else if errno != EEXIST {
                throw SpoolError("cannot create directory", path: path(of: name))
            }
        }
        let child = openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else {
            let code = errno
            if code == ENOENT, !create { return nil }
            throw classify(name, code: code, operation: "cannot open directory")
        }
        return Directory(descriptor: child, path: path(of: name))
    }

    /// The directory that holds `name`'s leaf, made when `create`; nil when a directory on
    /// the way does not exist and `create` is false.
    func parent(of name: SpoolName, create: Bool) throws(SpoolError) -> Directory? {
        var directory = self
        for component in name.directories {
            guard let next = try directory.subdirectory(component, create: create) else { return nil }
            directory = next
        }
        return directory
    }

    /// Opens the regular file `name` for reading without following a symbolic link; nil
    /// when it does not exist. A directory, FIFO or device is an error, and opening one
    /// never blocks (O_NONBLOCK).
    func openRegularFile(_ name: String) throws(SpoolError) -> Int32? {
        let file = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard file >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw classify(name, code: code, operation: "cannot open")
        }
        var status = stat()
        guard fstat(file, &status) == 0 else {
            let error = SpoolError("cannot stat", path: path(of: name))
            close(file)
            throw error
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(file)
            let isDirectory = status.st_mode & S_IFMT == S_IFDIR
            throw SpoolError(
                isDirectory ? "is a directory, not a file" : "not a regular file", path: path(of: name),
                code: isDirectory ? EISDIR : EINVAL)
        }
        return file
    }

    /// The type of `name` itself (a symbolic link is not followed), nil when it does not exist.
    func fileType(_ name: String) -> mode_t? {
        var status = stat()
        guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return status.st_mode & S_IFMT
    }

    /// fsync, so that entries added, renamed or removed here survive a crash.
    func sync() throws(SpoolError) {
        guard fsync(descriptor) == 0 else { throw SpoolError("cannot sync directory", path: path) }
    }

    /// Writes `text` to `name` atomically: a temporary file, then a rename over `name`.
    /// With `durable`, the file and the directory are fsynced too.
    func writeAtomically(_ text: String, to name: String, durable: Bool) throws(SpoolError) {
        let temporary = "." + name + ".tmp"
        let file = openat(descriptor, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw SpoolError("cannot create", path: path(of: temporary)) }
        let failure: SpoolError? = Array(text.utf8).withUnsafeBytes { buffer in
            do throws(SpoolError) {
                try FileIO.writeAll(file, buffer, at: 0, path: path(of: temporary))
            } catch {
                return error
            }
            if durable, fsync(file) != 0 { return SpoolError("cannot sync", path: path(of: temporary)) }
            return nil
        }
        if let error = failure {
            close(file)
            unlinkat(descriptor, temporary, 0)
            throw error
        }
        close(file)
        guard renameat(descriptor, temporary, descriptor, name) == 0 else {
            let error = SpoolError("cannot rename into", path: path(of: name))
            unlinkat(descriptor, temporary, 0)
            throw error
        }
        if durable { try sync() }
    }

    /// Reads all of `name` (not following a symbolic link) when it is a regular file of at
    /// most `limit` bytes; nil otherwise.
    func readSmallFile(_ name: String, limit: Int) -> [UInt8]? {
        let file = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size <= limit else {
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        let complete = bytes.withUnsafeMutableBytes { buffer in
            (try? FileIO.readAll(file, into: buffer, at: 0, path: path(of: name))) != nil
        }
        return complete ? bytes : nil
    }

    /// The names in this directory, "." and ".." left out.
    func entries() throws(SpoolError) -> [String] {
        let listing = openat(descriptor, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard listing >= 0, let stream = fdopendir(listing) else {
            throw SpoolError("cannot list directory", path: path)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// The error for a failed open of `name`: a symbolic link is `.outsideSpool`.
    private func classify(_ name: String, code: Int32, operation: String) -> SpoolError {
        if code == ELOOP || fileType(name) == S_IFLNK {
            return .outsideSpool(path: path(of: name))
        }
        if code == ENOTDIR {
            return SpoolError("not a directory", path: path(of: name), code: ENOTDIR)
        }
        return SpoolError(operation, path: path(of: name), code: code)
    }
}
