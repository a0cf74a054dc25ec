import P2MPProtocol

extension NativeSimulation.Result {
    /// File bytes per second that all receivers together acknowledged between the progress
    /// samples at `start` and `end` (the scenario must set `progressInterval`); nil when the
    /// run has no samples there.
    public func throughput(from start: Duration, to end: Duration) -> Double? {
        guard let first = progress.last(where: { $0.at <= .zero + start }),
            let last = progress.last(where: { $0.at <= .zero + end }), last.at > first.at
        else { return nil }
        let segments = zip(first.acknowledged, last.acknowledged).reduce(0) { $0 + Double($1.1 - $1.0) }
        return segments * Double(scenario.segmentSize) / last.at.duration(since: first.at).seconds
    }

    /// When the first receiver finished: until then every receiver was competing.
    public var firstFinish: Instant? { receivers.compactMap(\.finishedAt).min() }

    /// How long datagrams arriving at the bottleneck after `start` waited in its buffer, at
    /// `quantile` (0.5 is the median); nil without a bottleneck or such datagrams.
    public func queueing(quantile: Double, after start: Duration) -> Duration? {
        guard let passages = bottleneck?.passages else { return nil }
        let waits = passages.filter { $0.at > .zero + start }.map(\.queueing).sorted()
        guard !waits.isEmpty else { return nil }
        return waits[min(waits.count - 1, Int(Double(waits.count) * quantile))]
    }

    /// The share of the datagrams reaching the bottleneck after `start` that its full buffer dropped.
    public func overflowRate(after start: Duration) -> Double {
        guard let bottleneck else { return 0 }
        let dropped = bottleneck.overflows.filter { $0 > .zero + start }.count
        let passed = bottleneck.passages.filter { $0.at > .zero + start }.count
        return Double(dropped) / Double(max(1, dropped + passed))
    }
}
