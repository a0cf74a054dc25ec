import Foundation
import P2MPProtocol
import P2MPSecureSimulation
import P2MPSimulation
import Testing

/// Seeded runs of the native protocol under the trust core, with an attacker on the path
/// that injects forged, damaged, replayed and reordered datagrams, sessions of its own and
/// a whole recorded earlier push, at every phase (issue 14).
///
/// A failure prints the seed and the scenario. Replay one seed alone with
/// `P2MP_SECURE_SEED=<seed> [P2MP_TRACE=1] swift test --filter SecureSimulationTests/replay`.
@Suite("Secure simulation with an attacker")
struct SecureSimulationTests {
    static let scenarioCount: UInt64 = 10_000
    static let batches: [ClosedRange<UInt64>] = stride(from: 0, to: scenarioCount, by: 250).map { $0...($0 + 249) }

    static func replayLine(_ seed: UInt64) -> String {
        "replay: P2MP_SECURE_SEED=\(seed) swift test --filter SecureSimulationTests/replay"
    }

    @Test("no forged byte is ever accepted and honest pushes still complete, every seeded scenario", arguments: batches)
    func seededScenarios(seeds: ClosedRange<UInt64>) {
        for seed in seeds {
            let result = SecureSimulation.run(SecureScenario(seed: seed))
            for violation in result.violations {
                Issue.record("\(result.scenario)\n  \(violation)\n  \(Self.replayLine(seed))")
            }
        }
    }

    @Test(
        "fresh seeds from P2MP_SIM_SEEDS: no forged byte accepted, honest pushes complete",
        .enabled(if: SeedPlan.extra != nil, "P2MP_SIM_SEEDS is not set (make soak sets it)"),
        arguments: SeedPlan.extra ?? [])
    func freshSeeds(seeds: ClosedRange<UInt64>) {
        seededScenarios(seeds: seeds)
    }

    @Test("the scenarios exercise what they claim: every attack, every phase, refused keys, the insider, restarts, renewals")
    func coverage() {
        var injected: [AttackKind: Int] = [:]
        var strikes: [AttackPhase: Int] = [:]
        var drops = SecureSimulation.Drops()
        var refused = 0
        var insiderPlaintexts = 0
        var renewals = 0
        var committedAfterRestart = 0
        var earlierPushes = 0
        for seed in UInt64(0)..<400 {
            let result = SecureSimulation.run(SecureScenario(seed: seed))
            injected.merge(result.injected, uniquingKeysWith: +)
            strikes.merge(result.strikes, uniquingKeysWith: +)
            for receiver in result.receivers {
                drops.forged += receiver.dropped.forged
                drops.replayed += receiver.dropped.replayed
                drops.unknownSession += receiver.dropped.unknownSession
                drops.malformed += receiver.dropped.malformed
                refused += receiver.handshakesRefused
                if receiver.restarts > 0, receiver.outcome == .committed(alreadyHeld: false) { committedAfterRestart += 1 }
            }
            insiderPlaintexts += result.insiderPlaintexts
            renewals += result.renewals
            if result.scenario.attack.earlierFile != nil { earlierPushes += 1 }
        }
        print("injected \(injected.sorted { $0.key.rawValue < $1.key.rawValue }), strikes \(strikes), drops \(drops)")
        #expect(Set(injected.keys) == Set(AttackKind.allCases), "never injected: \(Set(AttackKind.allCases).subtracting(injected.keys))")
        #expect(Set(strikes.keys) == Set(AttackPhase.allCases), "never struck: \(Set(AttackPhase.allCases).subtracting(strikes.keys))")
        #expect(drops.forged > 100 && drops.replayed > 1_000 && drops.unknownSession > 100 && drops.malformed > 10)
        #expect(refused > 20, "handshakes under the untrusted key were refused")
        #expect(insiderPlaintexts > 20, "the insider's own session carried its datagrams")
        #expect(renewals > 10 && committedAfterRestart > 10)
        #expect(earlierPushes > 50)
    }

    /// The provenance check is a real check: an insider holding the sender's own key (a
    /// stolen key, outside the threat model) injects OFFER, DATA, PROBE and ABORT in the
    /// sender's name, and the simulation must say that the receivers accepted them.
    @Test("an attacker with the sender's key is caught by the provenance check")
    func provenanceCheckSeesAStolenKey() {
        var caught = 0
        for seed in UInt64(0)..<100 {
            var scenario = SecureScenario(seed: seed)
            scenario.attack.insiderHoldsSenderKey = true
            scenario.attack.strikeChance = 1
            scenario.attack.costlyAttacks = 6
            let result = SecureSimulation.run(scenario)
            if result.violations.contains(where: { $0.contains("that the sender never sealed there") }) { caught += 1 }
        }
        #expect(caught > 20)
    }

    /// Found by this simulation: the sender's OFFER of an empty file went out twice and one
    /// copy was corrupted on the way, so its counter was never opened. After the push, once
    /// the file was moved away and the receiver had forgotten the transfer, the attacker's
    /// recorded copy of it opened and committed the file again. Fixed by the replay horizon
    /// of `SecureSessions`.
    @Test("seed 1616: a held-back copy of an OFFER cannot commit a moved-away file again")
    func heldBackOffer() {
        let result = SecureSimulation.run(SecureScenario(seed: 1_616))
        let scenario = result.scenario
        #expect(scenario.network.file.isEmpty && scenario.attack.movesAwayAfterPush, "the scenario this seed names has changed")
        #expect(result.violations.isEmpty, "\(result.violations)")
    }

    @Test(
        "replay one seed from P2MP_SECURE_SEED",
        .enabled(if: ProcessInfo.processInfo.environment["P2MP_SECURE_SEED"] != nil, "P2MP_SECURE_SEED is not set"))
    func replay() throws {
        let text = try #require(ProcessInfo.processInfo.environment["P2MP_SECURE_SEED"])
        let seed = try #require(UInt64(text), "P2MP_SECURE_SEED must be an unsigned integer")
        let trace = ProcessInfo.processInfo.environment["P2MP_TRACE"] != nil
        let result = SecureSimulation.run(SecureScenario(seed: seed), trace: trace ? { print($0) } : nil)
        print("\(result.scenario)\n  events \(result.events), virtual time \(result.elapsed)")
        print("  injected \(result.injected.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" })")
        for (index, receiver) in result.receivers.enumerated() {
            print("  receiver \(index): \(receiver.outcome.map { "\($0)" } ?? "none"), restarts \(receiver.restarts), dropped \(receiver.dropped)")
        }
        #expect(result.violations.isEmpty, "\(result.violations)")
    }
}
