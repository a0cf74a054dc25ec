import Glibc
import Testing

/// Every test that reads or changes the process environment (NOTIFY_SOCKET, WATCHDOG_*,
/// LISTEN_*, JOURNAL_STREAM) lives in a suite nested in this one, so they run one at a
/// time; the other suites never touch the environment.
@Suite("process environment", .serialized)
struct ProcessEnvironmentTests {}

/// Runs `body` with `variables` set (or unset, for nil values), then restores them.
@discardableResult
func withEnvironment<Result>(
    _ variables: [String: String?],
    _ body: () throws -> Result
) rethrows -> Result {
    var saved: [String: String?] = [:]
    for (name, value) in variables {
        saved[name] = getenv(name).map { String(cString: $0) }
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
    defer {
        for (name, value) in saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
    return try body()
}
