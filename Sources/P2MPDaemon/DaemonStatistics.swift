import P2MPWire

/// Running totals of the daemon, for the `STATUS=` line `systemctl status` shows (and the
/// metrics, once they exist: the same numbers the journal's events report).
package struct DaemonStatistics: Sendable {
    package var completed = 0
    package var failed = 0
    package var bytesReceived: UInt64 = 0
    package var datagramsReceived: UInt64 = 0
    /// Every transfer's segments, duplicates and loss by cause, as its loss events and
    /// closing event reported them; a running transfer's share is added every
    /// `loss_event_interval`.
    package var reception = NativeReception()
    /// DATA dropped because its transfer's storage was behind.
    package var droppedStorageBusy: UInt64 = 0
    /// Datagrams dropped that did not authenticate (forged, replayed, untrusted keys, or
    /// requests in clear the daemon does not serve).
    package var droppedNotAuthenticated: UInt64 = 0

    /// Why a datagram was dropped before any machine saw it.
    package enum DropCause {
        case notAuthenticated
    }

    /// "2 active transfers, 14 completed, 1 failed, 1.3 GB received, 0.4% loss" (segments
    /// lost per segment received, every cause).
    func statusLine(active: Int) -> String {
        let loss = reception.segments == 0 ? 0 : Double(reception.lost) * 100 / Double(reception.segments)
        return "\(active) active transfer\(active == 1 ? "" : "s"), \(completed) completed, \(failed) failed, "
            + "\(Self.bytes(bytesReceived)) received, \(Self.decimal(loss, digits: 1))% loss"
    }

    static func bytes(_ count: UInt64) -> String {
        let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        for (scale, unit) in units where Double(count) >= scale {
            return "\(decimal(Double(count) / scale, digits: 1)) \(unit)"
        }
        return "\(count) B"
    }

    static func decimal(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        return digits == 0 ? "\(whole)" : "\(whole).\(String(repeating: "0", count: digits - fraction.count))\(fraction)"
    }
}
