import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// The result of one push: what every receiver ended with.
public struct PushReport: Sendable {
    public var bytes: UInt64
    public var elapsed: Duration
    public var receivers: [ReceiverReport]
    /// The file's SHA-256 (native pushes).
    public var sha256: String?

    public init(bytes: UInt64, elapsed: Duration, receivers: [ReceiverReport], sha256: String? = nil) {
        self.bytes = bytes
        self.elapsed = elapsed
        self.receivers = receivers
        self.sha256 = sha256
    }

    /// True when no receiver answered at all.
    public var noneReachable: Bool { !receivers.isEmpty && receivers.allSatisfy { !$0.wasReached } }

    /// True when every receiver has the whole file.
    public var allCompleted: Bool { receivers.allSatisfy { $0.status == .completed } }

    /// A short human summary: one line for the push, one per receiver.
    public var summary: String {
        let megabytes = Double(bytes) / 1_000_000
        let rate = elapsed.seconds > 0 ? megabytes / elapsed.seconds : 0
        var lines = [
            "Sent \(bytes) bytes to \(receivers.count) receiver\(receivers.count == 1 ? "" : "s") in "
                + "\(elapsed.formattedSeconds) s (\(rate.formatted(decimals: 2)) MB/s)"
        ]
        for receiver in receivers {
            var line = "  \(receiver.address)  "
            switch receiver.status {
            case .completed where receiver.alreadyHeld: line += "already held this file"
            case .completed:
                let goodput = receiver.elapsed.seconds > 0 ? Double(bytes - receiver.resumedBytes) / 1e6 / receiver.elapsed.seconds : 0
                line += "complete in \(receiver.elapsed.formattedSeconds) s (\(goodput.formatted(decimals: 2)) MB/s)"
            case .failed(let reason): line += "FAILED: \(reason)"
            }
            if receiver.resumedBytes > 0 { line += ", resumed after \(receiver.resumedBytes) bytes" }
            line += ", retransmissions \(receiver.retransmissions)"
            if receiver.transmissions > 0 {
                let loss = Double(receiver.retransmissions) * 100 / Double(receiver.transmissions)
                line += " (\(loss.formatted(decimals: 1))% loss)"
            }
            line += ", timeouts \(receiver.timeouts)"
            if let rtt = receiver.smoothedRTT { line += ", srtt \((rtt.seconds * 1000).formatted(decimals: 2)) ms" }
            if let reception = receiver.reception, reception.segments > 0 {
                let rate = Double(reception.lost) * 100 / Double(reception.segments)
                line += ", receiver lost \(reception.lost) of \(reception.segments) segments (\(rate.formatted(decimals: 2))%)"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// One receiver's part of a `PushReport`.
public struct ReceiverReport: Sendable {
    public enum Status: Sendable, Equatable {
        case completed
        case failed(reason: String)
    }

    /// As the user named it.
    public var target: String
    /// As resolved, `host:port`.
    public var address: String
    public var status: Status
    public var elapsed: Duration
    public var transmissions: Int
    public var retransmissions: Int
    public var timeouts: Int
    public var smoothedRTT: Duration?
    /// Bytes the receiver already held and did not need again (resume).
    public var resumedBytes: UInt64 = 0
    /// The receiver held this exact content already; nothing was sent.
    public var alreadyHeld = false
    /// False when the receiver never answered at all.
    public var wasReached = true
    /// The host key the receiver proved (authenticated pushes).
    public var hostKey: IdentityKey?
    /// What the receiver saw of the DATA of its last session, as its COMPLETE reported it
    /// (nil: it sent no report).
    public var reception: NativeReception?
}

extension Duration {
    /// Seconds with three decimals, for messages.
    public var formattedSeconds: String { seconds.formatted(decimals: 3) }
}

extension Double {
    /// Fixed-point text without Foundation.
    func formatted(decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (self * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(abs(scaled).truncatingRemainder(dividingBy: scale))
        let digits = String(fraction)
        let padded = String(repeating: "0", count: max(0, decimals - digits.count)) + digits
        return decimals == 0 ? String(whole) : "\(self < 0 && whole == 0 ? "-" : "")\(whole).\(padded)"
    }
}
