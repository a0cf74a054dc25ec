import Foundation
import P2MPProtocol
import P2MPSimulation
import Testing

/// Seeded end-to-end runs of the classic protocol over a faulty in-memory network.
///
/// A failure prints the seed and the scenario. Replay one seed alone with
/// `P2MP_SIM_SEED=<seed> [P2MP_TRACE=1] swift test --filter ClassicSimulationTests/replay`.
@Suite("Classic protocol simulation")
struct ClassicSimulationTests {
    static let scenarioCount: UInt64 = 2_000
    static let batches: [ClosedRange<UInt64>] = stride(from: 0, to: scenarioCount, by: 100).map { $0...($0 + 99) }

    @Test("every seeded scenario delivers byte-identical files", arguments: batches)
    func seededScenarios(seeds: ClosedRange<UInt64>) {
        for seed in seeds {
            let result = ClassicSimulation.run(ClassicScenario(seed: seed))
            for violation in result.violations {
                Issue.record("\(result.scenario)\n  \(violation)\n  replay: P2MP_SIM_SEED=\(seed) swift test --filter ClassicSimulationTests/replay")
            }
        }
    }

    @Test(
        "fresh seeds from P2MP_SIM_SEEDS deliver byte-identical files",
        .enabled(if: SeedPlan.extra != nil, "P2MP_SIM_SEEDS is not set (make soak sets it)"),
        arguments: SeedPlan.extra ?? [])
    func freshSeeds(seeds: ClosedRange<UInt64>) {
        seededScenarios(seeds: seeds)
    }

    @Test("the scenarios actually exercise the faults they claim")
    func faultsHappen() {
        var timeouts = 0
        var losses = 0
        var receiversSeen = Set<Int>()
        for seed in UInt64(0)..<200 {
            let result = ClassicSimulation.run(ClassicScenario(seed: seed))
            timeouts += result.timeouts
            losses += result.simulatedLosses
            receiversSeen.insert(result.scenario.receiverCount)
        }
        #expect(timeouts > 1000)
        #expect(losses > 100)
        #expect(receiversSeen == Set(1...16))
    }

    @Test("the same seed replays identically")
    func deterministic() {
        let first = ClassicSimulation.run(ClassicScenario(seed: 4242))
        let second = ClassicSimulation.run(ClassicScenario(seed: 4242))
        #expect(first.events == second.events)
        #expect(first.elapsed == second.elapsed)
        #expect(first.timeouts == second.timeouts)
    }

    @Test("a receiver that never answers is reported failed while the others complete")
    func silentReceiver() {
        for seed in UInt64(0)..<50 {
            var scenario = ClassicScenario(seed: seed)
            scenario.receiverCount = max(2, scenario.receiverCount)
            scenario.silentReceivers = [1]
            scenario.sender.giveUpAfter = .seconds(60)
            let result = ClassicSimulation.run(scenario)
            #expect(result.violations.isEmpty, "\(scenario): \(result.violations)")
            guard case .failed = result.receivers[1].senderState else {
                Issue.record("seed \(seed): the silent receiver was not failed")
                continue
            }
        }
    }

    @Test(
        "replay one seed from P2MP_SIM_SEED",
        .enabled(if: ProcessInfo.processInfo.environment["P2MP_SIM_SEED"] != nil, "P2MP_SIM_SEED is not set"))
    func replay() throws {
        let text = try #require(ProcessInfo.processInfo.environment["P2MP_SIM_SEED"])
        let seed = try #require(UInt64(text), "P2MP_SIM_SEED must be an unsigned integer")
        let trace = ProcessInfo.processInfo.environment["P2MP_TRACE"] != nil
        let result = ClassicSimulation.run(ClassicScenario(seed: seed), trace: trace ? { print($0) } : nil)
        print("\(result.scenario)\n  events \(result.events), virtual time \(result.elapsed), timeouts \(result.timeouts)")
        #expect(result.violations.isEmpty, "\(result.violations)")
    }
}
