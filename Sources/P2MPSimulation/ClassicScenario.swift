import P2MPProtocol
import P2MPWire

/// One seeded run of the classic protocol: a file, a group of receivers and a faulty network.
/// Everything is derived from `seed`, so `ClassicScenario(seed: s)` is a complete reproduction.
public struct ClassicScenario: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var file: [UInt8]
    public var segmentSize: Int
    public var receiverCount: Int
    public var conditions: NetworkConditions
    /// The receivers' own simulated loss probability (the seed's `p`).
    public var receiverLoss: Double
    public var sender: SenderConfiguration
    /// Receivers whose every datagram is lost: the sender must report them failed.
    public var silentReceivers: Set<Int> = []
    /// Virtual time after which an unfinished run counts as hung.
    public var timeLimit: Duration = .seconds(3600)

    /// A random scenario: 1–16 receivers, up to 64 segments of 1–1024 bytes, up to 30 %
    /// loss, duplication, reordering, corruption, delay and jitter, Stop-and-Wait mostly
    /// and sometimes a larger go-back-N window.
    public init(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        self.seed = seed
        receiverCount = Int.random(in: 1...16, using: &random)
        segmentSize = [1, 7, 64, 100, 500, 1000, 1024].randomElement(using: &random)!
        let segments = Int.random(in: 0...64, using: &random)
        let exactMultiple = random.chance(0.2)
        let length = segments == 0 ? 0 : (segments - 1) * segmentSize
            + (exactMultiple ? segmentSize : Int.random(in: 1...segmentSize, using: &random))
        file = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
        conditions = NetworkConditions(
            loss: Double.random(in: 0...0.3, using: &random),
            duplication: Double.random(in: 0...0.1, using: &random),
            reordering: Double.random(in: 0...0.2, using: &random),
            corruption: Double.random(in: 0...0.1, using: &random),
            delay: .microseconds(Int64.random(in: 50...50_000, using: &random)),
            jitter: .microseconds(Int64.random(in: 0...20_000, using: &random)))
        receiverLoss = random.chance(0.5) ? Double.random(in: 0...0.2, using: &random) : 0
        let window = random.chance(0.8) ? 1 : Int.random(in: 2...8, using: &random)
        let timeout: RetransmissionTimeout =
            random.chance(0.8)
            ? .adaptive(.standard) : .fixed(.milliseconds(Int64.random(in: 20...1000, using: &random)))
        sender = SenderConfiguration(
            window: window, groupPolicy: random.chance(0.7) ? .lockstep : .independent,
            retransmissionTimeout: timeout, giveUpAfter: .seconds(600))
    }

    public var description: String {
        "seed \(seed): \(receiverCount) receivers, \(file.count) bytes in segments of \(segmentSize), "
            + "window \(sender.window) \(sender.groupPolicy), \(conditions), receiver loss \(receiverLoss)"
            + (silentReceivers.isEmpty ? "" : ", silent \(silentReceivers.sorted())")
    }
}
