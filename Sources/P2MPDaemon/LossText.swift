import Logging
import P2MPWire

/// How loss reads in the journal: the fields and messages of loss events
/// (`P2MP_EVENT=loss`) and the totals a transfer's closing event carries (systemd/p2mp.catalog
/// explains them).
enum LossText {
    /// The fields of one loss event.
    static func fields(_ report: LossReport) -> Logger.Metadata {
        [
            "p2mp_loss_cause": "\(report.cause.rawValue)",
            "p2mp_lost_segments": "\(report.lost)",
            "p2mp_repaired_segments": "\(report.repaired)",
            "p2mp_duplicate_segments": "\(report.duplicates)",
            "p2mp_segments": "\(report.segments)",
            "p2mp_loss_rate": "\(rate(report.rate))",
        ]
    }

    /// A transfer's totals, every cause together, for its complete or fail event.
    static func fields(_ reception: NativeReception) -> Logger.Metadata {
        [
            "p2mp_lost_segments": "\(reception.lost)",
            "p2mp_repaired_segments": "\(reception.repaired)",
            "p2mp_duplicate_segments": "\(reception.duplicates)",
            "p2mp_segments": "\(reception.segments)",
            "p2mp_loss_rate": "\(rate(ratio(reception.lost, reception.segments)))",
        ]
    }

    /// "network lost 958 of 47935 segments (2.00%) of app.tar from 10.0.0.1:5000; 950
    /// repaired, 12 duplicates", and " (end of transfer)" for the last event.
    static func message(_ report: LossReport, file: String, peer: String, final: Bool) -> String {
        let what: String
        switch report.cause {
        case .network: what = "network lost"
        case .simulated: what = "simulated loss discarded"
        case .storage: what = "storage behind, dropped"
        }
        return "\(what) \(report.lost) of \(report.segments) segments (\(percent(report.rate))) of \(file) from \(peer); "
            + "\(report.repaired) repaired, \(report.duplicates) duplicates\(final ? " (end of transfer)" : "")"
    }

    /// "958 segments lost (2.00%: 958 network, 0 simulated, 0 storage), 958 repaired, 12 duplicates".
    static func totals(_ reception: NativeReception) -> String {
        let causes = NativeLossCause.allCases.map { "\(reception[$0].lost) \($0.rawValue)" }.joined(separator: ", ")
        return "\(reception.lost) segments lost (\(percent(ratio(reception.lost, reception.segments))): \(causes)), "
            + "\(reception.repaired) repaired, \(reception.duplicates) duplicates"
    }

    /// Lost per received, six decimals: "0.020134".
    static func rate(_ value: Double) -> String { DaemonStatistics.decimal(value, digits: 6) }

    private static func percent(_ value: Double) -> String { DaemonStatistics.decimal(value * 100, digits: 2) + "%" }

    private static func ratio(_ part: UInt64, _ whole: UInt64) -> Double { whole == 0 ? 0 : Double(part) / Double(whole) }
}
