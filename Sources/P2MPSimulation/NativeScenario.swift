import P2MPProtocol
import P2MPWire

/// One seeded run of the native protocol. Everything derives from `seed`, so
/// `NativeScenario(seed: s)` is a complete reproduction.
public struct NativeScenario: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var file: [UInt8]
    public var segmentSize: Int
    public var window: Int
    public var receiverCount: Int
    public var conditions: NetworkConditions
    /// The receivers' simulated loss probability (`p2mpd --loss`).
    public var receiverLoss: Double
    public var rateLimit: UInt64?
    /// Receivers whose traffic is all lost from this virtual time on.
    public var vanishing: [Int: Duration] = [:]
    /// Receivers whose endpoint restarts (losing every session, keeping its disk) at this time.
    public var restarting: [Int: Duration] = [:]
    public var giveUpAfter: Duration = .seconds(60)
    public var timeLimit: Duration = .seconds(3_600)
    /// The sender's link, which every datagram it sends passes first (congestion scenarios).
    public var bottleneck: Bottleneck?
    /// Changes of the one-way delay, both ways: from `at` on, `delay` (a route change).
    public var delayChanges: [(at: Duration, delay: Duration)] = []
    /// How the sender adapts its rate to the path.
    public var congestionControl: CongestionControl = .modelBased
    /// How often the run records every receiver's progress (nil: never).
    public var progressInterval: Duration?

    /// The ranges a random scenario is drawn from.
    public struct Shape: Sendable {
        public var receivers: ClosedRange<Int>
        public var segments: ClosedRange<Int>
        public var maximumLoss: Double
        /// The chances of the receivers' own simulated loss, of a receiver that vanishes and
        /// of one that restarts.
        public var receiverLossChance: Double
        public var vanishChance: Double
        public var restartChance: Double

        public init(
            receivers: ClosedRange<Int>, segments: ClosedRange<Int>, maximumLoss: Double, receiverLossChance: Double,
            vanishChance: Double, restartChance: Double
        ) {
            self.receivers = receivers
            self.segments = segments
            self.maximumLoss = maximumLoss
            self.receiverLossChance = receiverLossChance
            self.vanishChance = vanishChance
            self.restartChance = restartChance
        }

        /// 1–16 receivers, up to 200 segments, loss up to 30 %, a receiver's own loss, a
        /// vanishing and a restarting receiver each in some scenarios.
        public static let standard = Shape(
            receivers: 1...16, segments: 0...200, maximumLoss: 0.3, receiverLossChance: 0.3, vanishChance: 0.2, restartChance: 0.2)
    }

    /// A random scenario of `shape`: duplication, reordering, corruption in both directions,
    /// delay and jitter, sometimes a rate cap, a receiver that vanishes or one that
    /// restarts mid-transfer.
    public init(seed: UInt64, shape: Shape = .standard) {
        var random = SeededRandom(seed: seed)
        self.seed = seed
        receiverCount = Int.random(in: shape.receivers, using: &random)
        segmentSize = [1, 7, 100, 512, 1_400].randomElement(using: &random)!
        window = [1, 4, 16, 64, 1_024].randomElement(using: &random)!
        let segments = Int.random(in: shape.segments, using: &random)
        let length = segments == 0 ? 0 : (segments - 1) * segmentSize + Int.random(in: 1...segmentSize, using: &random)
        file = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
        conditions = NetworkConditions(
            loss: Double.random(in: 0...shape.maximumLoss, using: &random),
            duplication: Double.random(in: 0...0.1, using: &random),
            reordering: Double.random(in: 0...0.2, using: &random),
            corruption: Double.random(in: 0...0.05, using: &random),
            delay: .microseconds(Int64.random(in: 50...50_000, using: &random)),
            jitter: .microseconds(Int64.random(in: 0...20_000, using: &random)))
        receiverLoss = random.chance(shape.receiverLossChance) ? Double.random(in: 0...0.2, using: &random) : 0
        rateLimit = random.chance(0.2) ? UInt64.random(in: 100_000...10_000_000, using: &random) : nil
        if random.chance(shape.vanishChance) {
            vanishing[Int.random(in: 0..<receiverCount, using: &random)] = .milliseconds(Int64.random(in: 0...2_000, using: &random))
        }
        if random.chance(shape.restartChance) {
            restarting[Int.random(in: 0..<receiverCount, using: &random)] = .milliseconds(Int64.random(in: 0...2_000, using: &random))
        }
    }

    public var description: String {
        "seed \(seed): \(receiverCount) receivers, \(file.count) bytes in segments of \(segmentSize), window \(window), "
            + "\(conditions), receiver loss \(receiverLoss)"
            + (rateLimit.map { ", rate \($0) B/s" } ?? "")
            + (vanishing.isEmpty ? "" : ", vanishing \(vanishing.map { "\($0.key)@\($0.value)" })")
            + (restarting.isEmpty ? "" : ", restarting \(restarting.map { "\($0.key)@\($0.value)" })")
            + (bottleneck.map { ", bottleneck \(Int($0.bytesPerSecond)) B/s with \($0.bufferBytes) B of buffer" } ?? "")
            + (delayChanges.isEmpty ? "" : ", delay changes \(delayChanges.map { "\($0.delay)@\($0.at)" })")
            + (congestionControl == .modelBased ? "" : ", \(congestionControl)")
    }

    /// The one-way delay at `time`, after the delay changes due by then.
    func delay(at time: Duration) -> Duration {
        delayChanges.last { $0.at <= time }?.delay ?? conditions.delay
    }
}
