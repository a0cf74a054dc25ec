/// The largest value seen over the last `rounds` round trips: the best value of each round
/// with a sample, the oldest forgotten as rounds pass. BBR keeps its bandwidth estimate and
/// its ACK-aggregation allowance this way, so a lasting drop shows within `rounds` round
/// trips while a single slow sample changes nothing.
struct WindowedMaximum: Sendable {
    let rounds: UInt64
    /// The best value of each recent round, oldest first; at most `rounds` entries.
    private var best: [(round: UInt64, value: Double)] = []

    init(rounds: UInt64) {
        self.rounds = max(1, rounds)
    }

    /// The maximum over the window; 0 before any sample.
    private(set) var maximum = 0.0

    mutating func update(_ value: Double, round: UInt64) {
        best.removeAll { $0.round + rounds <= round }
        if let last = best.last, last.round == round {
            best[best.count - 1].value = max(last.value, value)
        } else {
            best.append((round, value))
        }
        maximum = best.reduce(0) { max($0, $1.value) }
    }
}
