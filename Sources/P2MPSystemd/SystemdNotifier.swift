import CSystemd
import Glibc

/// Talks to the service manager through `sd_notify(3)`: readiness, status, reload,
/// shutdown and watchdog pings.
///
/// `isEnabled` is decided once, when the notifier is created: it is false when
/// `NOTIFY_SOCKET` is unset (not started by systemd with `Type=notify`), and then every
/// call is a cheap no-op that returns ``Outcome/disabled``. The environment is never
/// unset (`unset_environment = 0`), so later watchdog pings and reloads keep working.
///
/// libsystemd sends each message as one datagram to `$NOTIFY_SOCKET` (a path, or `@name`
/// in the abstract namespace). Messages are `KEY=value` lines; values passed in here are
/// sanitized so that they cannot inject further assignments (newlines and NUL become
/// spaces).
public struct SystemdNotifier: Sendable {
    /// What happened to one notification.
    public enum Outcome: Sendable, Equatable {
        /// The datagram went out to the service manager.
        case sent
        /// `NOTIFY_SOCKET` was unset when the notifier was created; nothing was sent.
        case disabled
        /// The send failed (for example the socket vanished).
        case failed(SystemdError)
    }

    /// Whether `NOTIFY_SOCKET` was set when this notifier was created.
    public let isEnabled: Bool

    /// Reads `NOTIFY_SOCKET` from the environment.
    public init() {
        isEnabled = ProcessEnvironment.value("NOTIFY_SOCKET").map { !$0.isEmpty } ?? false
    }

    /// `READY=1` (with `STATUS=` when given): start-up or a reload has finished.
    @discardableResult
    public func ready(status: String? = nil) -> Outcome {
        var lines = ["READY=1"]
        if let status { lines.append("STATUS=" + Self.sanitized(status)) }
        return send(lines)
    }

    /// `STATUS=<text>`: the one line `systemctl status` shows.
    @discardableResult
    public func status(_ text: String) -> Outcome {
        send(["STATUS=" + Self.sanitized(text)])
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=<now>`: a reload has begun; send ``ready(status:)``
    /// when it is done. systemd 253+ (`Type=notify-reload`) requires the timestamp; 252
    /// ignores it.
    @discardableResult
    public func reloading() -> Outcome {
        guard isEnabled else { return .disabled }
        return send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"])
    }

    /// `STOPPING=1`: shutdown has begun.
    @discardableResult
    public func stopping() -> Outcome {
        send(["STOPPING=1"])
    }

    /// `WATCHDOG=1`: the keep-alive ping; send it every ``watchdogInterval``.
    @discardableResult
    public func watchdog() -> Outcome {
        send(["WATCHDOG=1"])
    }

    /// How often to send ``watchdog()``: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// recommends, or nil when the watchdog is off (unset, zero, or meant for another
    /// process by `WATCHDOG_PID`). Read from the environment on each access.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// Sends `lines` joined by newlines as one notification.
    private func send(_ lines: [String]) -> Outcome {
        guard isEnabled else { return .disabled }
        let result = sd_notify(0, lines.joined(separator: "\n"))
        if result > 0 { return .sent }
        if result == 0 { return .disabled }
        return .failed(SystemdError(operation: "sd_notify", returned: result))
    }

    /// `text` with newlines, carriage returns and NUL replaced by spaces, so that it stays
    /// one value of one assignment.
    static func sanitized(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            switch scalar {
            case "\n", "\r", "\0": " "
            default: scalar
            }
        }))
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock `MONOTONIC_USEC=` is defined on.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
