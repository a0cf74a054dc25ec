/// The largest value seen over the last `rounds` round trips and at least the last
/// `lifetime`: the best value of each round with a sample, forgotten once it is older than
/// both. BBR keeps its bandwidth estimate and its ACK-aggregation allowance this way, so a
/// single slow sample changes nothing, while a lasting drop shows within the window.
struct WindowedMaximum: Sendable {
    let rounds: UInt64
    let lifetime: Duration
    /// The best value of each recent round that no later round beats, oldest first: the
    /// values fall from front to back, so the front is the maximum and the deque stays short.
    private var best: [(round: UInt64, at: Instant, value: Double)] = []

    init(rounds: UInt64, lifetime: Duration = .zero) {
        self.rounds = max(1, rounds)
        self.lifetime = lifetime
    }

    /// The maximum over the window; 0 before any sample.
    var maximum: Double { best.first?.value ?? 0 }

    mutating func update(_ value: Double, round: UInt64, now: Instant) {
        while let oldest = best.first, oldest.round + rounds <= round,
            now.duration(since: oldest.at) >= lifetime
        {
            best.removeFirst()
        }
        var entry = (round: round, at: now, value: value)
        if let last = best.last, last.round == round {
            entry = (round, last.at, max(last.value, value))
            best.removeLast()
        }
        while let last = best.last, last.value <= entry.value { best.removeLast() }
        best.append(entry)
    }
}
