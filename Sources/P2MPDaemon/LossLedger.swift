import P2MPWire

/// One transfer's loss as the journal tells it. The receive window counts (its running
/// `NativeReception`); the ledger remembers what was already reported, and turns the rest
/// into `LossReport`s: at a periodic check, one for each cause that lost segments since its
/// last report; when the transfer ends, a last one for each cause that lost anything at all.
/// So a transfer's reports of one cause add up to its totals, and a transfer that lost
/// nothing has no report.
///
/// How often the checks come is the caller's business (`IncomingTransfers`: every
/// `loss_event_interval`), so reports of one transfer and cause are at least that far apart,
/// but for the last.
struct LossLedger {
    /// The counters at the last report of each cause.
    private var reported: [NativeLossCause: NativeReception] = [:]
    /// The counters already added to the daemon's totals.
    private var accounted = NativeReception()

    /// The reports due at a periodic check.
    mutating func periodicReports(_ reception: NativeReception) -> [LossReport] {
        reports(reception) { cause, since in reception[cause].lost > since[cause].lost }
    }

    /// The reports when the transfer ends: for each cause that lost segments during the
    /// transfer, what happened since its last report, if anything did.
    mutating func finalReports(_ reception: NativeReception) -> [LossReport] {
        reports(reception) { cause, since in reception[cause].lost > 0 && reception.segments > since.segments }
    }

    /// What `reception` counts beyond the last call, for the daemon's running totals.
    mutating func unaccounted(_ reception: NativeReception) -> NativeReception {
        defer { accounted = reception }
        return reception.subtracting(accounted)
    }

    private mutating func reports(
        _ reception: NativeReception, when due: (NativeLossCause, NativeReception) -> Bool
    ) -> [LossReport] {
        var reports: [LossReport] = []
        for cause in NativeLossCause.allCases {
            let since = reported[cause] ?? NativeReception()
            guard due(cause, since) else { continue }
            let change = reception.subtracting(since)
            reports.append(
                LossReport(
                    cause: cause, lost: change[cause].lost, repaired: change[cause].repaired,
                    duplicates: change.duplicates, segments: change.segments))
            reported[cause] = reception
        }
        return reports
    }
}

/// What one loss event says: segments of one cause lost and repaired in a period of a
/// transfer, with the duplicates and the segments that arrived in it.
struct LossReport: Equatable {
    var cause: NativeLossCause
    var lost: UInt64
    var repaired: UInt64
    var duplicates: UInt64
    var segments: UInt64

    /// Lost per segment received (`P2MP_LOSS_RATE`).
    var rate: Double { segments == 0 ? 0 : Double(lost) / Double(segments) }
}

extension NativeReception {
    /// Every counter of `self` minus the same counter of `earlier` (which it never falls below).
    func subtracting(_ earlier: NativeReception) -> NativeReception { combined(with: earlier, &-) }

    /// Every counter of `self` plus the same counter of `other`.
    func adding(_ other: NativeReception) -> NativeReception { combined(with: other, &+) }

    private func combined(with other: NativeReception, _ combine: (UInt64, UInt64) -> UInt64) -> NativeReception {
        var result = NativeReception(
            segments: combine(segments, other.segments), duplicates: combine(duplicates, other.duplicates))
        for cause in NativeLossCause.allCases {
            result[cause] = Losses(
                lost: combine(self[cause].lost, other[cause].lost),
                repaired: combine(self[cause].repaired, other[cause].repaired))
        }
        return result
    }
}
