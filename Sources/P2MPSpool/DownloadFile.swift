#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// A file being fetched (`p2mpsend get`): written at any offset into a hidden temporary
/// file beside the destination, and renamed onto the destination only after its SHA-256
/// matched and it was fsync'ed. Removed when abandoned.
public final class DownloadFile {
    public let destination: String
    public let size: UInt64
    private let writer: AtomicFileWriter

    /// Creates the temporary file, `size` bytes long.
    public init(destination: String, size: UInt64) throws(FileSystemError) {
        self.destination = destination
        self.size = size
        writer = try AtomicFileWriter(destination: destination)
        guard ftruncate(writer.descriptor, off_t(size)) == 0 else {
            throw FileSystemError("cannot size", path: writer.temporaryPath)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(FileSystemError) {
        try writer.write(bytes, at: offset)
    }

    /// Reads the whole file back and compares its SHA-256 with `expected`; commits on a match.
    /// Returns false (and removes the temporary file) on a mismatch.
    public func commit(expectedSHA256 expected: [UInt8]) throws(FileSystemError) -> Bool {
        let digest = try FileDigest.sha256(descriptor: writer.descriptor, length: size, path: writer.temporaryPath)
        guard digest == expected else {
            writer.discard()
            return false
        }
        try writer.commit()
        return true
    }

    public func discard() {
        writer.discard()
    }
}
