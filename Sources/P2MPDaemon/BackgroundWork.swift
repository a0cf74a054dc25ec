import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Blocking work the daemon does off its event loop: hashing files the spool holds to
/// answer an OFFER, walking the spool for a listing. It runs on threads of a pool of its
/// own, at a lower priority than the loop (nice 10: hashing a gigabyte must not take the
/// CPU a push needs), and each result comes back on the loop, after which `afterEach` runs
/// (the daemon sends what the result made it answer). Without a pool (unit tests) work runs
/// at once, on the caller's thread.
final class BackgroundWork {
    private let pool: NIOThreadPool?
    private let loop: (any EventLoop)?
    /// Runs on the loop after each completion.
    var afterEach: () -> Void = {}

    /// The niceness of the work's threads.
    static let niceness: Int32 = 10

    /// Work on `threads` threads, results on `loop`.
    init(loop: any EventLoop, threads: Int = 1) {
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
        pool.runIfActive(eventLoop: loop) { () -> Value in
            Self.lowerPriority()
            return work()
        }.assumeIsolated().whenSuccess { [self] value in
            completion(value)
            afterEach()
        }
    }

    /// Lowers the calling thread's priority to `niceness`: on Linux, PRIO_PROCESS with id 0
    /// is the calling thread alone (setpriority(2), "Bugs").
    private static func lowerPriority() {
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        #endif
    }
}
