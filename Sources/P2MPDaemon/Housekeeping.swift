import P2MPProtocol

/// The daemon's periodic chores and when each is due: the watchdog ping, the STATUS line,
/// and the sweep of stale partials (at start, then hourly).
struct Housekeeping {
    enum Chore: Equatable {
        case watchdog, status, sweepPartials
    }

    static let statusInterval: Duration = .seconds(2)
    /// How often partials older than `partial_max_age` are looked for.
    static let partialSweepInterval: Duration = .seconds(3_600)

    private let watchdogInterval: Duration?
    private var nextWatchdog: Instant?
    private var nextStatus = Instant.zero
    private var nextSweep = Instant.zero

    init(watchdogInterval: Duration?) {
        self.watchdogInterval = watchdogInterval
    }

    mutating func start(now: Instant) {
        nextWatchdog = watchdogInterval.map { now + $0 }
        nextStatus = now + Self.statusInterval
        nextSweep = now + Self.partialSweepInterval
    }

    /// When the next chore is due.
    var nextDue: Instant? { Instant.earliest(nextWatchdog, min(nextStatus, nextSweep)) }

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
        return chores
    }
}
