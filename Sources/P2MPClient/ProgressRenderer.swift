/// Draws a `ProgressState` as plain lines (no terminal codes), each at most `width` characters:
///
///     [=========>          ]  45%  1.2 GB/2.6 GB  312 MB/s  ETA 5s
///       web-01  sending     52%  41.2 MB/s
///       web-02  committed  100%
///       web-03  failed       3%  rejected (space): not enough space
///
/// With more than `perReceiverLimit` receivers the receiver lines give way to one line of counts:
/// `  120 receivers: 80 done, 35 active, 5 failed`.
public enum ProgressRenderer {
    public static let perReceiverLimit = 10
    /// Cells between the brackets.
    public static let barWidth = 20
    /// Receiver names are padded to the longest, up to this.
    static let nameColumn = 30

    public static func render(_ state: ProgressState, width: Int) -> [String] {
        var lines = [header(state)]
        if state.receivers.count <= perReceiverLimit {
            let column = min(nameColumn, state.receivers.map(\.name.count).max() ?? 0)
            lines += state.receivers.indices.map { receiverLine(state, $0, nameColumn: column) }
        } else {
            lines.append(
                "  \(state.receivers.count) receivers: \(state.committedCount) done, \(state.activeCount) active, "
                    + "\(state.failedCount) failed")
        }
        return lines.map { truncate($0, to: width) }
    }

    /// `[bar] pct%  done/total  rate  ETA` (or `done in` once finished).
    static func header(_ state: ProgressState) -> String {
        let fraction = state.fraction
        let timing: String
        if state.isFinished {
            timing = "done in \(duration(state.elapsed))"
        } else {
            timing = "ETA " + (state.eta.map(duration) ?? "--")
        }
        return "\(bar(fraction)) \(padded(percent(fraction), 3))%  "
            + "\(bytes(state.bytesDone))/\(bytes(state.bytesTotal))  \(rate(state.rate))  \(timing)"
    }

    /// `  name  phase  pct%` and the rate while sending or the reason once failed.
    static func receiverLine(_ state: ProgressState, _ index: Int, nameColumn: Int) -> String {
        let receiver = state.receivers[index]
        var line = "  \(leftAligned(receiver.name, nameColumn))  \(leftAligned(receiver.phase.rawValue, 9))  "
            + "\(padded(percent(receiver.fraction), 3))%"
        switch receiver.phase {
        case .sending: line += "  " + rate(state.rate(of: index))
        case .failed: if let reason = receiver.failureReason { line += "  " + reason }
        case .offering, .verifying, .committed: break
        }
        return line
    }

    /// `[=========>          ]`: `>` marks the front until the bar is full.
    static func bar(_ fraction: Double) -> String {
        let filled = min(barWidth, max(0, Int(fraction * Double(barWidth))))
        if filled == barWidth { return "[" + String(repeating: "=", count: barWidth) + "]" }
        let front = String(repeating: "=", count: filled) + ">"
        return "[" + front + String(repeating: " ", count: barWidth - filled - 1) + "]"
    }

    /// Whole percent, rounded down so 100 means done.
    static func percent(_ fraction: Double) -> Int { min(100, max(0, Int(fraction * 100))) }

    /// Decimal units: `999 B`, `1.2 kB`, `45.3 MB`, `312 MB`, `2.6 GB`.
    static func bytes(_ count: UInt64) -> String {
        if count < 1000 { return "\(count) B" }
        for (unit, scale) in [("kB", 1e3), ("MB", 1e6)] where Double(count) / scale < 999.5 {
            return "\(number(Double(count) / scale)) \(unit)"
        }
        return "\(number(Double(count) / 1e9)) GB"
    }

    /// Always MB/s, so rates line up; `-- MB/s` when unknown.
    static func rate(_ bytesPerSecond: Double?) -> String {
        guard let bytesPerSecond else { return "-- MB/s" }
        return "\(number(bytesPerSecond / 1e6)) MB/s"
    }

    /// `5s`, `1m05s`, `2h03m`, `>99h`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 100 * 3600 else { return ">99h" }
        let whole = Int(max(0, seconds).rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m\(twoDigits(whole % 60))s" }
        return "\(whole / 3600)h\(twoDigits(whole % 3600 / 60))m"
    }

    /// One decimal below 100, whole numbers above.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "--" }
        let value = max(0, value)
        if value < 99.95 {
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)"
        }
        return value < 1e15 ? "\(Int(value.rounded()))" : "--"
    }

    /// The first `width` characters.
    static func truncate(_ line: String, to width: Int) -> String {
        width <= 0 ? "" : String(line.prefix(width))
    }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// Padded with spaces on the right to `width` characters (never cut).
    private static func leftAligned(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
