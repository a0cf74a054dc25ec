#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file-system reads the loader needs, on the C library (no Foundation).
enum FileAccess {
    /// Configuration files are small; anything larger is a mistake, not a configuration.
    static let maximumFileSize = 1 << 20

    enum ReadResult: Equatable {
        case contents([UInt8])
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
        if (status.st_mode & S_IFMT) == S_IFDIR { return .failed("is a directory, expected a file") }
        var contents: [UInt8] = []
        // Room for the whole file as it is now, and one byte to see that it ended.
        var buffer = [UInt8](repeating: 0, count: min(max(Int(clamping: status.st_size), 0), maximumFileSize) + 1)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed("cannot be read: " + errorText(errno))
            }
            if count == 0 { break }
            contents += buffer[..<count]
            if contents.count > maximumFileSize {
                return .failed("is larger than \(maximumFileSize / 1024) KiB, expected a configuration file")
            }
        }
        return .contents(contents)
    }

    /// The names in a directory, or nil when it does not exist.
    static func names(in directory: String) -> Result<[String]?, InvalidValue> {
        guard let stream = opendir(directory) else {
            let code = errno
            return code == ENOENT ? .success(nil) : .failure(InvalidValue("cannot be listed: " + errorText(code)))
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// `read(2)`, named apart from the enum's own `read(_:)`.
@inline(__always)
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.read(descriptor, buffer, count)
    #else
    Darwin.read(descriptor, buffer, count)
    #endif
}
