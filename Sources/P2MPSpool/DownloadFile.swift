#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto

/// A file being fetched (`p2mpsend get`): written at any offset into a hidden temporary
/// file beside the destination, and renamed onto the destination only after its SHA-256
/// matched and it was fsync'ed. Removed when abandoned.
///
/// The SHA-256 follows the contiguous prefix as it grows: bytes that arrive in order are
/// hashed as they are written, bytes after a gap are read back once it is filled, so the
/// commit hashes little more than the last gap.
public final class DownloadFile {
    public let destination: String
    public let size: UInt64
    private let writer: AtomicFileWriter
    private var hasher = SHA256()
    private var hashedBytes: UInt64 = 0

    /// Creates the temporary file, `size` bytes long (EFBIG beyond what a file offset holds:
    /// the size comes from the network).
    public init(destination: String, size: UInt64) throws(FileSystemError) {
        guard size <= UInt64(off_t.max) else {
            throw FileSystemError("cannot hold \(size) bytes in", path: destination, code: EFBIG)
        }
        self.destination = destination
        self.size = size
        writer = try AtomicFileWriter(destination: destination)
        guard ftruncate(writer.descriptor, off_t(size)) == 0 else {
            throw FileSystemError("cannot size", path: writer.temporaryPath)
        }
    }

    /// Writes `bytes` at `offset`; `contiguous` is how far the file is complete with them.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, contiguous: UInt64) throws(FileSystemError) {
        try writer.write(bytes, at: offset)
        if offset == hashedBytes {
            hasher.update(bufferPointer: bytes)
            hashedBytes += UInt64(bytes.count)
        }
        try catchUp(to: min(contiguous, size))
    }

    /// Hashes what is left and compares the SHA-256 with `expected`; commits on a match.
    /// Returns false (and removes the temporary file) on a mismatch.
    public func commit(expectedSHA256 expected: [UInt8]) throws(FileSystemError) -> Bool {
        try catchUp(to: size)
        let digest = Array(hasher.finalize())
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

    private func catchUp(to end: UInt64) throws(FileSystemError) {
        guard end > hashedBytes else { return }
        try FileDigest.update(&hasher, descriptor: writer.descriptor, range: hashedBytes..<end, path: writer.temporaryPath)
        hashedBytes = end
    }
}
