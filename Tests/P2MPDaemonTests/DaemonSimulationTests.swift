import Foundation
import P2MPDaemonSimulation
import P2MPProtocol
import P2MPSimulation
import P2MPWire
import Testing

/// The daemon's receiving logic (admission, sessions, commits, resume) run for real in the
/// simulation, on disks that fill up, fail with EIO, fall behind and lose what was not
/// synced when the daemon crashes. A failure prints its seed; replay it with
/// `P2MP_DAEMON_SEED=<seed> [P2MP_TRACE=1] swift test --filter DaemonSimulationTests/replay`.
@Suite("Daemon simulation")
struct DaemonSimulationTests {
    static let batches: [ClosedRange<UInt64>] = stride(from: 0, to: 2_000, by: 250).map { $0...($0 + 249) }

    @Test("every seeded scenario ends with the file committed or a failure its faults explain", arguments: batches)
    func seededScenarios(seeds: ClosedRange<UInt64>) {
        for seed in seeds {
            let result = DaemonSimulation.run(DaemonScenario(seed: seed))
            for violation in result.violations {
                Issue.record(
                    "\(result.scenario)\n  \(violation)\n  replay: P2MP_DAEMON_SEED=\(seed) swift test --filter DaemonSimulationTests/replay")
            }
        }
    }

    @Test(
        "fresh seeds from P2MP_SIM_SEEDS end with the file committed or a failure its faults explain",
        .enabled(if: DaemonSeedPlan.extra != nil, "P2MP_SIM_SEEDS is not set (make soak sets it)"),
        arguments: DaemonSeedPlan.extra ?? [])
    func freshSeeds(seeds: ClosedRange<UInt64>) {
        seededScenarios(seeds: seeds)
    }

    @Test(
        "the scenarios exercise every disk fault, crashes with resume, loss events of every cause (several per transfer), and still mostly commit"
    )
    func coverage() {
        var struck = Set<String>()
        var lossEvents: [String: Int] = [:]
        var transfersWithPeriodicEvents = 0
        var refusedForSpace = 0
        var committed = 0
        var resumedAfterCrash = 0
        for seed in UInt64(0)..<300 {
            let result = DaemonSimulation.run(DaemonScenario(seed: seed))
            for faults in result.faultsStruck { struck.formUnion(faults) }
            let losses = result.loggedEvents.filter { $0.event == "loss" }
            for loss in losses { lossEvents[loss.fields["p2mp_loss_cause"] ?? "?", default: 0] += 1 }
            let perTransfer = Dictionary(grouping: losses) { "\($0.daemon) \($0.fields["p2mp_transfer_id"] ?? "")" }
            transfersWithPeriodicEvents += perTransfer.values.filter { $0.count > 2 }.count
            for (index, outcome) in result.outcomes.enumerated() {
                if case .rejected(let rejection)? = outcome, rejection.reason == .noSpace { refusedForSpace += 1 }
                guard case .committed(alreadyHeld: false)? = outcome else { continue }
                committed += 1
                if result.scenario.network.restarting[index] != nil { resumedAfterCrash += 1 }
            }
        }
        #expect(struck.isSuperset(of: ["EIO on write", "EIO on commit"]), "\(struck)")
        #expect(refusedForSpace > 5, "full disks refuse at admission")
        #expect(committed > 1_000)
        #expect(resumedAfterCrash > 10)
        #expect(lossEvents["network", default: 0] > 1_000 && lossEvents["simulated", default: 0] > 1_000, "\(lossEvents)")
        #expect(lossEvents["storage", default: 0] > 500, "\(lossEvents)")
        #expect(transfersWithPeriodicEvents > 200)
    }

    @Test(
        "replay one seed from P2MP_DAEMON_SEED",
        .enabled(if: ProcessInfo.processInfo.environment["P2MP_DAEMON_SEED"] != nil, "P2MP_DAEMON_SEED is not set"))
    func replay() throws {
        let text = try #require(ProcessInfo.processInfo.environment["P2MP_DAEMON_SEED"])
        let seed = try #require(UInt64(text), "P2MP_DAEMON_SEED must be an unsigned integer")
        let trace = ProcessInfo.processInfo.environment["P2MP_TRACE"] != nil
        let result = DaemonSimulation.run(DaemonScenario(seed: seed), trace: trace ? { print($0) } : nil)
        print("\(result.scenario)\n  virtual time \(result.elapsed)")
        for (index, outcome) in result.outcomes.enumerated() {
            print("  receiver \(index): \(outcome.map { "\($0)" } ?? "none"), faults \(result.faultsStruck[index])")
        }
        #expect(result.violations.isEmpty, "\(result.violations)")
    }
}

/// `P2MP_SIM_SEEDS` for this suite (the same rule as the protocol suites').
enum DaemonSeedPlan {
    static let extra: [ClosedRange<UInt64>]? = {
        guard let text = ProcessInfo.processInfo.environment["P2MP_SIM_SEEDS"] else { return nil }
        let range: ClosedRange<UInt64>?
        if text.hasPrefix("random:"), let count = UInt64(text.dropFirst("random:".count)), count > 0 {
            let first = UInt64.random(in: 1 << 32...(UInt64.max - count))
            range = first...(first + count - 1)
        } else {
            let bounds = text.split(separator: "-").compactMap { UInt64($0) }
            range = bounds.count == 2 && bounds[0] <= bounds[1] ? bounds[0]...bounds[1] : nil
        }
        guard let range else { return [] }
        print("P2MP_SIM_SEEDS=\(text): daemon seeds \(range.lowerBound)...\(range.upperBound)")
        return stride(from: range.lowerBound, through: range.upperBound, by: 500).map { $0...min(range.upperBound, $0 &+ 499) }
    }()
}
