import Glibc

/// A libsystemd call that failed, with the errno it reported.
///
/// libsystemd returns failures as negative errno values; `code` is the positive errno.
public struct SystemdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libsystemd function that failed, e.g. `"sd_notify"`.
    public var operation: String
    /// The positive errno value, e.g. `ENOENT`.
    public var code: Int32

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// Makes the error from a libsystemd return value (`-errno`).
    init(operation: String, returned value: Int32) {
        self.init(operation: operation, code: value == Int32.min ? EINVAL : -value)
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(code))) (errno \(code))"
    }
}
