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

    /// Every datagram dropped since start, by cause: the daemon's own counts and what the
    /// endpoint and the secure sessions counted, gathered here so that the log, and later
    /// the metrics, read one place (`ReceiverDaemon` refreshes the machines' share).
    package struct Drops: Sendable, Equatable {
        /// Not authenticated (clear requests the daemon does not serve, refused keys).
        package var notAuthenticated: UInt64 = 0
        /// DATA whose transfer's storage was behind.
        package var storageBusy: UInt64 = 0
        /// Native datagrams that did not decode, or DATA outside the window or of the wrong length.
        package var malformed = 0
        /// For a transfer of another peer.
        package var foreignPeer = 0
        /// DATA or PROBE for no transfer (answered, rate-limited, with ABORT).
        package var unknownTransfer = 0
        /// DATA already held.
        package var duplicate = 0
        /// Secure envelope: not decodable, for no session, replayed or outside the window, forged.
        package var secureMalformed = 0
        package var unknownSession = 0
        package var replayed = 0
        package var forged = 0
        /// Handshake messages dropped: malformed, bad cookie, half-open table full, unknown
        /// session, forged CONFIRM, reply queue full.
        package var handshake = 0

        package var total: Int {
            Int(clamping: notAuthenticated) + Int(clamping: storageBusy) + malformed + foreignPeer + unknownTransfer + duplicate
                + secureMalformed + unknownSession + replayed + forged + handshake
        }

        /// "12 malformed, 3 replayed": the causes with a count, for the log.
        package var summary: String {
            let counts: [(String, Int)] = [
                ("not authenticated", Int(clamping: notAuthenticated)), ("storage busy", Int(clamping: storageBusy)),
                ("malformed", malformed), ("foreign peer", foreignPeer), ("unknown transfer", unknownTransfer),
                ("duplicate", duplicate), ("malformed sealed", secureMalformed), ("unknown session", unknownSession),
                ("replayed", replayed), ("forged", forged), ("handshake", handshake),
            ]
            let shown = counts.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }
            return shown.isEmpty ? "none" : shown.joined(separator: ", ")
        }
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
