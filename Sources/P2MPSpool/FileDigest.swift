import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 of bytes and of files, streamed in 1 MiB chunks: memory does not grow with
/// the file's size.
public enum FileDigest {
    public static let chunkSize = 1 << 20

    /// SHA-256 of `bytes`, as 64 lowercase hex digits.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(SHA256.hash(data: bytes))
    }

    /// SHA-256 of the first `length` bytes of the open file `descriptor` (read with
    /// `pread`, so the file offset is untouched); `path` names it in errors. A file shorter
    /// than `length` fails with EIO.
    public static func sha256(descriptor: Int32, length: UInt64, path: String) throws(FileSystemError) -> [UInt8] {
        var hasher = SHA256()
        try update(&hasher, descriptor: descriptor, range: 0..<length, path: path)
        return Array(hasher.finalize())
    }

    /// Feeds bytes `range` of the open file `descriptor` to `hasher`, read with `pread` in
    /// chunks of at most `chunkSize`; a file that ends before `range` does fails with EIO.
    public static func update(
        _ hasher: inout SHA256, descriptor: Int32, range: Range<UInt64>, path: String
    ) throws(FileSystemError) {
        guard !range.isEmpty else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Int(min(UInt64(chunkSize), UInt64(range.count))), alignment: 16)
        defer { buffer.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let wanted = Int(min(UInt64(buffer.count), range.upperBound - offset))
            let count = pread(descriptor, buffer.baseAddress!, wanted, off_t(offset))
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("cannot read", path: path)
            }
            guard count > 0 else { throw FileSystemError("file shrank while hashing", path: path, code: EIO) }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += UInt64(count)
        }
    }
}
