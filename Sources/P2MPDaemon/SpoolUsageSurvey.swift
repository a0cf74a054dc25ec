import P2MPProtocol
import P2MPSpool
import P2MPWire

/// The spool's usage for STATUS (`p2mpsend status`), taken off the loop: `Spool.usage`
/// reads every directory and stats every file. One survey at a time; the STATUS requests
/// that arrive meanwhile wait for it (at most `maximumWaiting`; beyond, "busy"), and a
/// survey serves every request within `reuse` of it unless the daemon committed, renamed or
/// removed a file since. So a flood of STATUS costs one survey a second, as LIST costs one
/// walk (`Listings`).
struct SpoolUsageSurvey {
    static let reuse: Duration = .seconds(1)
    static let maximumWaiting = 256

    /// A STATUS that needs the spool's usage.
    struct Request: Equatable {
        var requestID: UInt64
        var peer: DaemonPeer
        var cursor: UInt32
    }

    /// What to do about one request.
    enum Step: Equatable {
        case ready(Spool.Usage)
        /// Survey the spool (off the loop) and hand the result to `surveyed`; the request waits.
        case survey
        /// A survey is under way; the request waits for it.
        case wait
        case busy(NativeResult)
    }

    private var latest: (taken: Instant, changes: Int, usage: Spool.Usage)?
    private var waiting: [Request] = []
    /// The count of changes when the survey under way started, if one is.
    private var surveying: Int?

    /// The usage for `request`; `changes` counts the files the daemon committed, renamed or
    /// removed so far.
    mutating func usage(for request: Request, changes: Int, now: Instant) -> Step {
        if let latest, latest.changes == changes, now < latest.taken + Self.reuse { return .ready(latest.usage) }
        guard !waiting.contains(where: { $0.requestID == request.requestID && $0.peer == request.peer }) else { return .wait }
        guard waiting.count < Self.maximumWaiting else {
            return .busy(NativeResult(status: .failed, text: "busy: \(Self.maximumWaiting) status requests wait for the spool to be read"))
        }
        waiting.append(request)
        guard surveying == nil else { return .wait }
        surveying = changes
        return .survey
    }

    /// The survey ended (nil: the spool could not be read): the requests that waited for it.
    mutating func surveyed(_ usage: Spool.Usage?, now: Instant) -> [Request] {
        if let usage { latest = (now, surveying ?? -1, usage) }
        surveying = nil
        defer { waiting.removeAll() }
        return waiting
    }
}
