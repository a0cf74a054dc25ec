/// Where a push stands, for the live display: a pure value the push updates and
/// `ProgressRenderer` draws. Times are seconds on any monotonic clock.
public struct ProgressState: Sendable, Equatable {
    public enum Phase: String, Sendable, Equatable, CaseIterable {
        case offering, sending, verifying, committed, failed

        /// Committed or failed: nothing more will happen.
        public var isFinished: Bool { self == .committed || self == .failed }
    }

    /// One receiver's progress.
    public struct Receiver: Sendable, Equatable {
        public var name: String
        public var phase: Phase
        /// Bytes the receiver holds, including `resumedBytes`.
        public var bytesAcknowledged: UInt64
        public var fileSize: UInt64
        /// Bytes it already held when it accepted (a resume): done, but not sent now, so
        /// not counted in rates.
        public var resumedBytes: UInt64
        public var failureReason: String?
        var window: RateWindow

        public init(name: String, fileSize: UInt64, window: Double = RateWindow.defaultWindow) {
            self.name = name
            self.phase = .offering
            self.bytesAcknowledged = 0
            self.fileSize = fileSize
            self.resumedBytes = 0
            self.failureReason = nil
            self.window = RateWindow(window: window)
        }

        /// Bytes this push carried to the receiver.
        public var bytesTransferred: UInt64 { bytesAcknowledged - min(resumedBytes, bytesAcknowledged) }

        /// 0...1; a failed receiver keeps what it had.
        public var fraction: Double {
            if phase == .committed { return 1 }
            return fileSize == 0 ? 0 : min(1, Double(bytesAcknowledged) / Double(fileSize))
        }
    }

    public var receivers: [Receiver]
    public var startTime: Double
    /// The time of the last `advance(to:)`.
    public private(set) var now: Double
    private var window: RateWindow

    public init(names: [String], fileSize: UInt64, startTime: Double, window: Double = RateWindow.defaultWindow) {
        receivers = names.map { Receiver(name: $0, fileSize: fileSize, window: window) }
        self.startTime = startTime
        now = startTime
        self.window = RateWindow(window: window)
        self.window.record(bytes: 0, at: startTime)
        for index in receivers.indices { receivers[index].window.record(bytes: 0, at: startTime) }
    }

    /// Moves the clock to `now` and samples the byte counts for the rates. Call it after
    /// updating receivers and before rendering.
    public mutating func advance(to now: Double) {
        self.now = max(self.now, now)
        window.record(bytes: bytesTransferred, at: self.now)
        for index in receivers.indices {
            receivers[index].window.record(bytes: receivers[index].bytesTransferred, at: self.now)
        }
    }

    /// Marks receiver `index` failed with `reason`.
    public mutating func fail(_ index: Int, reason: String) {
        receivers[index].phase = .failed
        receivers[index].failureReason = reason
    }

    /// Bytes held by all receivers together.
    public var bytesDone: UInt64 { receivers.reduce(0) { $0 + min($1.bytesAcknowledged, $1.fileSize) } }

    /// Bytes all receivers will hold at the end: a failed receiver counts only what it got,
    /// so the total reaches 100 % once every receiver committed or failed.
    public var bytesTotal: UInt64 {
        receivers.reduce(0) { $0 + ($1.phase == .failed ? min($1.bytesAcknowledged, $1.fileSize) : $1.fileSize) }
    }

    /// Bytes this push carried, over all receivers (resumed bytes excluded).
    public var bytesTransferred: UInt64 { receivers.reduce(0) { $0 + $1.bytesTransferred } }

    /// 0...1.
    public var fraction: Double {
        let total = bytesTotal
        if total == 0 { return isFinished ? 1 : 0 }
        return min(1, Double(bytesDone) / Double(total))
    }

    public var elapsed: Double { max(0, now - startTime) }

    /// Every receiver committed or failed.
    public var isFinished: Bool { receivers.allSatisfy(\.phase.isFinished) }

    /// Bytes per second over all receivers in the last few seconds; once finished, the
    /// average over the whole push. Nil until enough time has passed to tell.
    public var rate: Double? {
        if isFinished { return elapsed > 0 ? Double(bytesTransferred) / elapsed : nil }
        return window.rate(bytes: bytesTransferred, at: now)
    }

    /// Receiver `index`'s bytes per second in the last few seconds.
    public func rate(of index: Int) -> Double? {
        receivers[index].window.rate(bytes: receivers[index].bytesTransferred, at: now)
    }

    /// Seconds left at the current rate; nil when the rate is unknown or zero.
    public var eta: Double? {
        let remaining = bytesTotal - min(bytesDone, bytesTotal)
        if remaining == 0 { return 0 }
        guard let rate, rate > 0 else { return nil }
        return Double(remaining) / rate
    }

    public var committedCount: Int { receivers.count(where: { $0.phase == .committed }) }
    public var failedCount: Int { receivers.count(where: { $0.phase == .failed }) }
    public var activeCount: Int { receivers.count(where: { !$0.phase.isFinished }) }
}

/// A rate over a sliding window: a small ring of (time, bytes) samples spaced at least
/// `window / 16` apart, so 32 of them always reach back past the window.
public struct RateWindow: Sendable, Equatable {
    public static let defaultWindow = 2.0
    static let capacity = 32
    /// Shorter spans than this give no rate: too noisy.
    static let minimumSpan = 0.5

    struct Sample: Sendable, Equatable {
        var time: Double
        var bytes: UInt64
    }

    public let window: Double
    private var ring: [Sample] = []
    /// Index of the oldest sample once the ring is full.
    private var head = 0

    public init(window: Double = RateWindow.defaultWindow) {
        self.window = window
    }

    /// Samples in time order, oldest first.
    var samples: [Sample] { Array(ring[head...] + ring[..<head]) }

    /// Adds a sample unless the last one is too recent to matter.
    public mutating func record(bytes: UInt64, at time: Double) {
        let sample = Sample(time: time, bytes: bytes)
        if ring.count < Self.capacity {
            if let last = ring.last, time - last.time < window / 16 { return }
            ring.append(sample)
        } else {
            let last = ring[(head + Self.capacity - 1) % Self.capacity]
            if time - last.time < window / 16 { return }
            ring[head] = sample
            head = (head + 1) % Self.capacity
        }
    }

    /// Bytes per second from the newest sample at least `window` old (or the oldest one)
    /// to `bytes` at `now`.
    public func rate(bytes: UInt64, at now: Double) -> Double? {
        let ordered = samples
        guard let base = ordered.last(where: { $0.time <= now - window }) ?? ordered.first else { return nil }
        let span = now - base.time
        guard span >= Self.minimumSpan else { return nil }
        return bytes > base.bytes ? Double(bytes - base.bytes) / span : 0
    }
}
