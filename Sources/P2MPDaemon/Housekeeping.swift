import P2MPProtocol

/// The daemon's periodic chores and when each is due: the watchdog ping, the STATUS line,
/// the sweep of stale partials (at start, then hourly) and of partials that never received
/// data (every five minutes).
struct Housekeeping {
    enum Chore: Equatable {
        case watchdog, status, sweepPartials, reclaimEmptyPartials
    }

    static let statusInterval: Duration = .seconds(2)
    /// How often partials older than `partial_max_age` are looked for.
    static let partialSweepInterval: Duration = .seconds(3_600)
    /// How often, and after how long untouched, partials that hold no byte are removed (a
    /// crash left them; the daemon removes its own when their transfer ends).
    static let emptyPartialInterval: Duration = .seconds(300)

    private let watchdogInterval: Duration?
    private var nextWatchdog: Instant?
    private var nextStatus = Instant.zero
    private var nextSweep = Instant.zero
    private var nextReclaim = Instant.zero

    init(watchdogInterval: Duration?) {
        self.watchdogInterval = watchdogInterval
    }

    mutating func start(now: Instant) {
        nextWatchdog = watchdogInterval.map { now + $0 }
        nextStatus = now + Self.statusInterval
        nextSweep = now + Self.partialSweepInterval
        nextReclaim = now + Self.emptyPartialInterval
    }

    /// When the next chore is due.
    var nextDue: Instant? { Instant.earliest(nextWatchdog, min(nextStatus, nextSweep, nextReclaim)) }

    /// The chores due at `now`, each rescheduled.
    mutating func due(now: Instant) -> [Chore] {
        var chores: [Chore] = []
        if let due = nextWatchdog, due <= now, let interval = watchdogInterval {
            chores.append(.watchdog)
            nextWatchdog = now + interval
        }
        if nextStatus <= now {
            chores.append(.status)
            nextStatus = now + Self.statusInterval
        }
        if nextSweep <= now {
            chores.append(.sweepPartials)
            nextSweep = now + Self.partialSweepInterval
        }
        if nextReclaim <= now {
            chores.append(.reclaimEmptyPartials)
            nextReclaim = now + Self.emptyPartialInterval
        }
        return chores
    }
}
