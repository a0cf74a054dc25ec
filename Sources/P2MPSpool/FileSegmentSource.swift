#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
/// A regular file read with `pread`, as the bytes of a transfer (the sender's machines ask
/// for blocks of it; they read no file themselves).
///
/// The size is taken once at open; a file that shrinks under a running transfer makes
/// `read` fail rather than send short segments.
public final class FileSegmentSource: Sendable {
    public let path: String
    public let byteCount: UInt64
    private let descriptor: Int32

    /// Opens `path` for reading; fails for a missing, unreadable or non-regular file.
    public init(path: String) throws(FileSystemError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError("cannot open", path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = FileSystemError("cannot stat", path: path)
            close(descriptor)
            throw error
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw FileSystemError("not a regular file", path: path, code: EINVAL)
        }
        self.path = path
        self.descriptor = descriptor
        self.byteCount = UInt64(status.st_size)
    }

    /// Takes over an open descriptor of a regular file (closed with the source).
    public init(descriptor: Int32, path: String) throws(FileSystemError) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = FileSystemError("cannot stat", path: path)
            close(descriptor)
            throw error
        }
        self.path = path
        self.descriptor = descriptor
        self.byteCount = UInt64(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    /// What identifies the bytes the file holds now, for `DigestCache`.
    public var identity: FileIdentity? { FileIdentity(descriptor: descriptor) }

    /// Fills `buffer` completely with the bytes starting at `offset`.
    public func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        // A file that ends early shrank while sending: an error, never short segments.
        try FileIO.readAll(descriptor, into: buffer, at: offset, path: path)
    }
}
