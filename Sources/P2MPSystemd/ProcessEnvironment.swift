import Glibc

/// Reads of the process environment, the way libsystemd sees it (no Foundation).
enum ProcessEnvironment {
    /// The value of `name`, or nil when it is unset.
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}
