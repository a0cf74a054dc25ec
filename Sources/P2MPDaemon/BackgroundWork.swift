import NIOCore
import NIOPosix

/// Blocking work the daemon does off its event loop: hashing files the spool holds to
/// answer an OFFER, walking the spool for a listing. It runs on a few threads of a pool of
/// its own, and each result comes back on the loop, after which `afterEach` runs (the daemon
/// sends what the result made it answer). Without a pool (unit tests) work runs at once, on
/// the caller's thread.
final class BackgroundWork {
    private let pool: NIOThreadPool?
    private let loop: (any EventLoop)?
    /// Runs on the loop after each completion.
    var afterEach: () -> Void = {}

    /// Work on `threads` threads, results on `loop`.
    init(loop: any EventLoop, threads: Int = 2) {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        self.pool = pool
        self.loop = loop
    }

    /// Work at once, on the caller's thread.
    init() {
        pool = nil
        loop = nil
    }

    /// Runs `work` off the loop, then `completion` with its result on the loop.
    func run<Value: Sendable>(_ work: @escaping @Sendable () -> Value, completion: @escaping (Value) -> Void) {
        guard let pool, let loop else {
            completion(work())
            return
        }
        pool.runIfActive(eventLoop: loop, work).assumeIsolated().whenSuccess { [self] value in
            completion(value)
            afterEach()
        }
    }
}
