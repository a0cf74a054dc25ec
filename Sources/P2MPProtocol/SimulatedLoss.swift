/// The seed's simulated packet loss: each arriving data packet is discarded with
/// probability `probability`, drawn from a seeded generator, so that a run (simulated, or a
/// daemon started with `--loss-seed`) can be replayed exactly.
public struct SimulatedLoss: Sendable {
    /// In `0...1`; 0 never discards, 1 always does.
    public private(set) var probability: Double
    /// The seed the draws come from.
    public let seed: UInt64
    private var random: SeededRandom

    /// `probability` must lie in `0...1` (checked; configuration and flags validate it).
    public init(probability: Double, seed: UInt64) {
        precondition((0...1).contains(probability), "loss probability outside [0, 1]")
        self.probability = probability
        self.seed = seed
        random = SeededRandom(seed: seed)
    }

    /// No loss at all.
    public static let none = SimulatedLoss(probability: 0, seed: 0)

    /// The same stream of draws with another probability (a reloaded configuration).
    public func withProbability(_ probability: Double) -> SimulatedLoss {
        precondition((0...1).contains(probability), "loss probability outside [0, 1]")
        var changed = self
        changed.probability = probability
        return changed
    }

    /// Draws r uniformly from [0, 1) and discards when r < p.
    public mutating func shouldDiscard() -> Bool {
        guard probability > 0 else { return false }
        return Double.random(in: 0..<1, using: &random) < probability
    }
}
