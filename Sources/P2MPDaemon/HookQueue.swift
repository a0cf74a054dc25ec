import NIOConcurrencyHelpers
import NIOPosix

/// Where post-receive hooks run: `maximumRunning` threads of their own (never the global
/// pool that the storage queues share, and never the event loop), and at most
/// `maximumWaiting` more hooks waiting for one. A hook beyond that is not run: `submit` says
/// so and the daemon logs it. So 300 one-datagram pushes with a `sleep 20` hook hold 4
/// threads, not 98, and delay nothing but other hooks.
final class HookQueue: Sendable {
    static let maximumRunning = 4
    static let maximumWaiting = 256

    private let pool: NIOThreadPool
    /// Hooks submitted and not yet finished (running or waiting).
    private let pending = NIOLockedValueBox(0)
    let capacity: Int

    init(running: Int = HookQueue.maximumRunning, waiting: Int = HookQueue.maximumWaiting) {
        pool = NIOThreadPool(numberOfThreads: running)
        pool.start()
        capacity = running + waiting
    }

    /// Runs `hook` on a hook thread once one is free; false, and nothing runs, when
    /// `capacity` hooks are already running or waiting.
    func submit(_ hook: @escaping @Sendable () -> Void) -> Bool {
        let admitted = pending.withLockedValue { count in
            guard count < capacity else { return false }
            count += 1
            return true
        }
        guard admitted else { return false }
        pool.submit { [pending] _ in
            hook()
            pending.withLockedValue { $0 -= 1 }
        }
        return true
    }

    /// Hooks running or waiting now.
    var backlog: Int { pending.withLockedValue { $0 } }
}
