/// The seed's simulated packet loss: each arriving data packet is discarded with
/// probability `probability`. The random source is injected so simulations are repeatable.
public struct SimulatedLoss<Random: RandomNumberGenerator> {
    /// In `0...1`; 0 never discards, 1 always does.
    public let probability: Double
    private var random: Random

    public init(probability: Double, random: Random) {
        precondition((0...1).contains(probability), "loss probability outside [0, 1]")
        self.probability = probability
        self.random = random
    }

    /// The same random source with another probability (a reloaded configuration).
    public func withProbability(_ probability: Double) -> SimulatedLoss {
        SimulatedLoss(probability: probability, random: random)
    }

    /// Draws r uniformly from [0, 1) and discards when r < p.
    public mutating func shouldDiscard() -> Bool {
        guard probability > 0 else { return false }
        return Double.random(in: 0..<1, using: &random) < probability
    }
}
extension SimulatedLoss: Sendable where Random: Sendable {}
