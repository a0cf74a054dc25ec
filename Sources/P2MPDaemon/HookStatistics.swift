import Synchronization

/// What the post-receive hooks did since the daemon started: counted where each run ends,
/// on the hooks' own threads, beside the `hook` journal event that reports it; read by the
/// metrics on the loop.
package final class HookStatistics: Sendable {
    package struct Counts: Sendable, Equatable {
        /// Hooks that ended, whatever the outcome.
        package var runs = 0
        /// Exited with a status other than 0.
        package var failedStatus = 0
        /// Killed after `post_receive_timeout`.
        package var timedOut = 0
        /// Could not be started.
        package var notStarted = 0
        /// Not run: the hook queue was full (not counted in `runs`).
        package var notQueued = 0
    }

    private let counts = Mutex(Counts())

    package init() {}

    package var current: Counts { counts.withLock { $0 } }

    func count(_ outcome: PostReceiveHook.Outcome) {
        counts.withLock { counts in
            counts.runs += 1
            switch outcome {
            case .exited(0): break
            case .exited: counts.failedStatus += 1
            case .timedOut: counts.timedOut += 1
            case .notStarted: counts.notStarted += 1
            }
        }
    }

    /// A hook the full `HookQueue` turned away.
    func countNotQueued() {
        counts.withLock { $0.notQueued += 1 }
    }
}
