#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations key files need, on the C library (no Foundation).
enum KeyFileIO {
    /// Key, trusted-senders and known-hosts files are small; anything larger is a mistake.
    static let maximumFileSize = 1 << 20

    struct Contents {
        var bytes: [UInt8]
        /// The permission bits (`st_mode & 0o7777`).
        var mode: mode_t
    }

    enum ReadResult {
        case contents(Contents)
        case missing
        case failed(String)
    }

    static func read(_ path: String) -> ReadResult {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            return code == ENOENT ? .missing : .failed("cannot be read: " + errorText(code))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .failed("cannot be read: " + errorText(errno)) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return .failed("is not a regular file") }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed("cannot be read: " + errorText(errno))
            }
            if count == 0 { break }
            bytes += buffer[..<count]
            if bytes.count > maximumFileSize { return .failed("is larger than \(maximumFileSize / 1024) KiB") }
        }
        return .contents(Contents(bytes: bytes, mode: status.st_mode & 0o7777))
    }

    /// Writes `bytes` to a new file at `path` with `mode`, durably, without ever replacing
    /// an existing file: a temporary file beside it is written and fsynced, then linked to
    /// `path` (which fails if `path` exists) and removed. Returns an error text or nil.
    static func createNew(_ path: String, bytes: [UInt8], mode: mode_t) -> String? {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { return "cannot be created: " + errorText(errno) }
        defer { unlink(temporary) }
        // The umask may have taken bits away; the mode is exactly what was asked for.
        var failure: String? = fchmod(descriptor, mode) == 0 ? nil : "cannot set its mode: " + errorText(errno)
        var written = 0
        while failure == nil, written < bytes.count {
            let count = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = "cannot be written: " + errorText(errno)
            } else {
                written += count
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = "cannot be synced: " + errorText(errno) }
        close(descriptor)
        if let failure { return failure }
        guard link(temporary, path) == 0 else {
            return errno == EEXIST ? "already exists" : "cannot be created: " + errorText(errno)
        }
        syncDirectory(of: path)
        return nil
    }

    /// Appends `bytes` to `path`, creating it with `mode` when missing, and fsyncs it.
    static func append(_ path: String, bytes: [UInt8], mode: mode_t) -> String? {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode)
        guard descriptor >= 0 else { return "cannot be opened for writing: " + errorText(errno) }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                return "cannot be written: " + errorText(errno)
            }
            written += count
        }
        return fsync(descriptor) == 0 ? nil : "cannot be synced: " + errorText(errno)
    }

    private static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let descriptor = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// `mode` as four octal digits, as ssh and chmod print it (`0644`).
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

@inline(__always)
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.read(descriptor, buffer, count)
    #else
    Darwin.read(descriptor, buffer, count)
    #endif
}

@inline(__always)
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
    #else
    Darwin.write(descriptor, buffer, count)
    #endif
}
