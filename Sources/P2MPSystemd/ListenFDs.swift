import CSystemd
import Glibc

/// Sockets passed in by systemd socket activation (`sd_listen_fds(3)`): file descriptors
/// `SD_LISTEN_FDS_START` (3) onwards, when `LISTEN_PID` is this process.
public enum ListenFDs {
    /// One inherited file descriptor.
    public struct Descriptor: Sendable, Hashable {
        public var fileDescriptor: Int32
        /// Whether it is a datagram socket (`sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0`).
        public var isDatagram: Bool
        /// Its `FileDescriptorName=` (systemd's default is the socket unit's name, or
        /// `"unknown"` when `LISTEN_FDNAMES` is unset).
        public var name: String

        public init(fileDescriptor: Int32, isDatagram: Bool, name: String) {
            self.fileDescriptor = fileDescriptor
            self.isDatagram = isDatagram
            self.name = name
        }
    }

    /// The first inherited descriptor, 3.
    public static let start: Int32 = SD_LISTEN_FDS_START

    /// The inherited descriptors, in order; empty when none were passed (no `LISTEN_FDS`,
    /// or `LISTEN_PID` names another process).
    ///
    /// The environment is left as it is (`unset_environment = 0`); libsystemd marks the
    /// descriptors close-on-exec. Throws when `LISTEN_FDS`/`LISTEN_PID` are malformed.
    public static func inherited() throws(SystemdError) -> [Descriptor] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(0, &names)
        defer {
            if let names {
                for index in 0..<Int(max(count, 0)) { free(names[index]) }
                free(names)
            }
        }
        guard count >= 0 else { throw SystemdError(operation: "sd_listen_fds", returned: count) }
        return (0..<count).map { offset in
            let fd = start + offset
            let name = names?[Int(offset)].map { String(cString: $0) } ?? "unknown"
            return Descriptor(fileDescriptor: fd, isDatagram: isDatagramSocket(fd), name: name)
        }
    }

    /// Whether `fd` is a datagram socket of any address family.
    public static func isDatagramSocket(_ fd: Int32) -> Bool {
        sd_is_socket(fd, AF_UNSPEC, Int32(SOCK_DGRAM.rawValue), -1) > 0
    }
}
