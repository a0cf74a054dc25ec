import P2MPProtocol
import P2MPWire

/// Answers STATUS (`p2mpsend status`) page by page: cursor 0 takes a report of the daemon
/// (`take`), later pages for the same peer are cut from it for a few seconds, as listings
/// are, so that the pages of one report agree. At most `maximumReports` are kept.
struct StatusResponder {
    /// The daemon as a whole, and its transfers (running ones first, then ended ones, newest first).
    struct Report {
        var summary: NativeStatusReport.Summary
        var transfers: [NativeStatusReport.Transfer]
    }

    private var reports: [DaemonPeer: (taken: Instant, report: Report)] = [:]

    static let reportLifetime: Duration = .seconds(10)
    static let maximumReports = 64

    /// Whether the page of `peer` from `cursor` needs a new report: cursor 0, or no report
    /// kept for `peer` any more.
    func needsReport(from cursor: UInt32, for peer: DaemonPeer, now: Instant) -> Bool {
        guard cursor > 0, let kept = reports[peer] else { return true }
        return now >= kept.taken + Self.reportLifetime
    }

    mutating func page(from cursor: UInt32, for peer: DaemonPeer, now: Instant, take: () -> Report) -> NativeStatusReport {
        let report: Report
        if !needsReport(from: cursor, for: peer, now: now), let kept = reports[peer] {
            report = kept.report
        } else {
            report = take()
            reports = reports.filter { now < $0.value.taken + Self.reportLifetime }
            if reports[peer] == nil, reports.count >= Self.maximumReports,
                let oldest = reports.min(by: { $0.value.taken < $1.value.taken })
            {
                reports[oldest.key] = nil
            }
            reports[peer] = (now, report)
        }
        let shown = cutPage(of: report.transfers, from: cursor, budget: NativeStatusReport.transferBudget, size: \.encodedSize)
        return NativeStatusReport(
            summary: report.summary, total: UInt32(clamping: report.transfers.count), cursor: cursor, transfers: shown)
    }
}
