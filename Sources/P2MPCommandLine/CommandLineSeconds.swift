/// Durations typed on a command line, in seconds: finite, positive and at most a limit, so
/// that no value can overflow the nanoseconds a `Duration` is made of (a `--give-up 1e300`
/// used to trap the conversion).
public enum CommandLineSeconds {
    /// One day: the longest any of the tools' time options sensibly is.
    public static let defaultLimit = 86_400.0

    /// `seconds` as a duration (whole milliseconds, rounded up, never 0), or a usage error
    /// naming `flag` and the range: "--give-up '1e+300' is not a number of seconds in (0, 86400]".
    public static func duration(_ seconds: Double, flag: String, limit: Double = defaultLimit) throws -> Duration {
        guard seconds.isFinite, seconds > 0, seconds <= limit else {
            throw UsageError("\(flag) '\(seconds)' is not a number of seconds in (0, \(Int(limit))]")
        }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }
}
