import Glibc

/// A Unix datagram socket standing in for systemd's notification socket.
final class NotifySocket {
    let fd: Int32
    /// The value for `NOTIFY_SOCKET`: a path, or `@name` in the abstract namespace.
    let address: String
    private let path: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(abstract: Bool) throws {
        let unique = "p2mp-notify-\(getpid())-\(UInt32.random(in: .min ... .max))"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var nameBytes: [UInt8]
        if abstract {
            address = "@" + unique
            path = nil
            nameBytes = [0] + Array(unique.utf8)
        } else {
            let file = "/tmp/\(unique).sock"
            address = file
            path = file
            nameBytes = Array(file.utf8) + [0]
        }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
        guard nameBytes.count <= capacity else { throw Failure(description: "name too long") }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: nameBytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + nameBytes.count)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw Failure(description: "bind \(address): errno \(code)")
        }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil when none arrives within `milliseconds`.
    func receive(waitingMilliseconds milliseconds: Int32 = 2_000) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
