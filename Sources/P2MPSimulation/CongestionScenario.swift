import P2MPProtocol

extension NativeScenario {
    /// A path for congestion control: `receivers` receivers behind the sender's link of
    /// `bytesPerSecond` whose buffer holds `buffer` of traffic at that rate, a round trip of
    /// `rtt` beyond it, random `loss` of what leaves the link (as nftables drops it at each
    /// receiver of the testbed), and a file that takes about `seconds` to reach every receiver
    /// at the link's rate. Nothing else goes wrong: no corruption, no restarts.
    public static func congestion(
        seed: UInt64, receivers: Int, bytesPerSecond: Double, rtt: Duration, buffer: Duration, loss: Double = 0,
        seconds: Double, segmentSize: Int = 1_400
    ) -> NativeScenario {
        var scenario = NativeScenario(seed: seed)
        var random = SeededRandom(seed: seed ^ 0xC0_46_E5_71_0B)
        let length = Int(bytesPerSecond * seconds / Double(max(1, receivers)))
        let words = (0..<(length + 7) / 8).map { _ in random.next() }
        scenario.file = words.withUnsafeBytes { Array($0.prefix(length)) }
        scenario.receiverCount = receivers
        scenario.segmentSize = segmentSize
        scenario.window = 4_096
        scenario.conditions = NetworkConditions(loss: loss, delay: rtt / 2)
        scenario.receiverLoss = 0
        scenario.rateLimit = nil
        scenario.vanishing = [:]
        scenario.restarting = [:]
        scenario.bottleneck = Bottleneck(
            bytesPerSecond: bytesPerSecond, bufferBytes: Int(bytesPerSecond * buffer.seconds))
        return scenario
    }
}
