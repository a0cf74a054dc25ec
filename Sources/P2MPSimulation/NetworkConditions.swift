/// The faults of a simulated path, applied independently to each datagram.
public struct NetworkConditions: Sendable, Equatable, CustomStringConvertible {
    public var loss: Double = 0
    public var duplication: Double = 0
    /// Probability that a datagram is held back by up to `4 * delay` extra, reordering it.
    public var reordering: Double = 0
    /// Probability that one random bit of a datagram is flipped.
    public var corruption: Double = 0
    public var delay: Duration = .milliseconds(1)
    /// Uniform extra delay in `0...jitter`.
    public var jitter: Duration = .zero

    public init(
        loss: Double = 0, duplication: Double = 0, reordering: Double = 0, corruption: Double = 0,
        delay: Duration = .milliseconds(1), jitter: Duration = .zero
    ) {
        self.loss = loss
        self.duplication = duplication
        self.reordering = reordering
        self.corruption = corruption
        self.delay = delay
        self.jitter = jitter
    }

    public var description: String {
        let percent = { (value: Double) in String(Int((value * 1000).rounded()) / 10) + "%" }
        return "loss \(percent(loss)) dup \(percent(duplication)) reorder \(percent(reordering)) "
            + "corrupt \(percent(corruption)) delay \(delay.nanoseconds / 1_000_000)ms "
            + "jitter \(jitter.nanoseconds / 1_000_000)ms"
    }
}
