#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-buffer positioned reads and writes, retried on EINTR and short counts.
enum FileIO {
    /// Writes all of `bytes` at `offset`; ENOSPC and EDQUOT become `.noSpace`.
    static func writeAll(
        _ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String
    ) throws(SpoolError) {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw SpoolError("cannot write", path: path)
            }
            done += count
        }
    }

    /// Fills all of `buffer` from `offset`; a file that ends first fails with EIO.
    static func readAll(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String
    ) throws(SpoolError) {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw SpoolError("cannot read", path: path)
            }
            guard count > 0 else { throw SpoolError("file ends before the bytes asked for", path: path, code: EIO) }
            done += count
        }
    }
}
