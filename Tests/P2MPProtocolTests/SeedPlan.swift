import Foundation
import P2MPSimulation

/// Which seeds a simulation suite runs beyond its fixed set, from `P2MP_SIM_SEEDS`:
/// `random:N` runs N fresh seeds from a random first seed (printed, so the run can be
/// repeated), `FIRST-LAST` a range. Unset: none (only the fixed seeds run).
enum SeedPlan {
    static let variable = "P2MP_SIM_SEEDS"
    static let batchSize: UInt64 = 500
    /// The plan of this test run, drawn once (both suites run the same seeds).
    static let extra: [ClosedRange<UInt64>]? = batches()

    /// The extra seeds in batches (one test case each, so they run in parallel), or nil.
    static func batches(environment: [String: String] = ProcessInfo.processInfo.environment) -> [ClosedRange<UInt64>]? {
        guard let text = environment[variable] else { return nil }
        guard let seeds = parse(text) else {
            print("\(variable)=\(text) is not random:N or FIRST-LAST; running no extra seeds")
            return []
        }
        print("\(variable)=\(text): seeds \(seeds.lowerBound)...\(seeds.upperBound) (\(seeds.count) scenarios)")
        return stride(from: seeds.lowerBound, through: seeds.upperBound, by: Int(batchSize)).map {
            $0...min(seeds.upperBound, $0 &+ batchSize - 1)
        }
    }

    static func parse(_ text: String) -> ClosedRange<UInt64>? {
        if text.hasPrefix("random:") {
            guard let count = UInt64(text.dropFirst("random:".count)), count > 0 else { return nil }
            // Far above the fixed seeds; a whole run fits below UInt64.max.
            let first = UInt64.random(in: 1 << 32...(UInt64.max - count))
            return first...(first + count - 1)
        }
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = UInt64(bounds[0]), let last = UInt64(bounds[1]), first <= last else { return nil }
        return first...last
    }
}
