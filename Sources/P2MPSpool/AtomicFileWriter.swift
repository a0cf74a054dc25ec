#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that its final name only ever holds complete content.
///
/// Bytes go to a hidden temporary file beside the destination (`.NAME.p2mp-XXXXXX`).
/// `commit()` fsyncs it, renames it over the destination and fsyncs the directory;
/// `discard()` (or deinit without a commit) removes it.
public final class AtomicFileWriter {
    public let destination: String
    public private(set) var temporaryPath: String
    public private(set) var bytesWritten: UInt64 = 0
    private(set) var descriptor: Int32
    private var isClosed = false

    /// Creates the temporary file; fails when the destination's directory does not exist
    /// or is not writable.
    public init(destination: String) throws(FileSystemError) {
        self.destination = destination
        let directory = Self.directory(of: destination)
        let name = destination.split(separator: "/").last.map(String.init) ?? destination
        var template = Array("\(directory)/.\(name).p2mp-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw FileSystemError("cannot create a file in", path: directory) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        fchmod(descriptor, 0o644)
        self.descriptor = descriptor
        self.temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        if !isClosed { discard() }
    }

    /// Appends `bytes`.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        var done = 0
        while done < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("cannot write", path: temporaryPath)
            }
            done += count
        }
        bytesWritten += UInt64(bytes.count)
    }

    /// Writes `bytes` at `offset` (for files received out of order).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(FileSystemError) {
        do throws(SpoolError) {
            try FileIO.writeAll(descriptor, bytes, at: offset, path: temporaryPath)
        } catch {
            throw error.fileSystemError
        }
        bytesWritten += UInt64(bytes.count)
    }

    /// Makes the content durable under the destination name.
    public func commit() throws(FileSystemError) {
        guard fsync(descriptor) == 0 else { throw FileSystemError("cannot sync", path: temporaryPath) }
        close(descriptor)
        isClosed = true
        guard rename(temporaryPath, destination) == 0 else {
            let error = FileSystemError("cannot rename into", path: destination)
            unlink(temporaryPath)
            throw error
        }
        let directory = open(Self.directory(of: destination), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Removes the temporary file; the destination is untouched.
    public func discard() {
        guard !isClosed else { return }
        close(descriptor)
        unlink(temporaryPath)
        isClosed = true
    }

    /// Why a file cannot be created at `path`, or nil when it can (as far as can be told
    /// before trying): the directory must exist and be writable, `path` must not be a directory.
    public static func destinationProblem(_ path: String) -> String? {
        let directory = directory(of: path)
        var status = stat()
        guard stat(directory, &status) == 0 else { return "directory '\(directory)' does not exist" }
        guard status.st_mode & S_IFMT == S_IFDIR else { return "'\(directory)' is not a directory" }
        guard access(directory, W_OK) == 0 else { return "directory '\(directory)' is not writable" }
        if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { return "'\(path)' is a directory" }
        return nil
    }

    /// The directory part of `path` ("." for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
