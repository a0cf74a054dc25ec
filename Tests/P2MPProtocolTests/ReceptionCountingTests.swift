import Foundation
import P2MPProtocol
import P2MPSimulation
import P2MPWire
import Testing

/// What a receive window counts of a transfer's DATA (`NativeReception`): holes first seen
/// and repaired, duplicates, and segments the receiver discarded itself, by cause.
@Suite("Reception counting")
struct ReceptionCountingTests {
    /// A window over `segments` segments of 10 bytes.
    func window(segments: UInt64 = 100, window: Int = 64, resumeFrom: UInt64 = 0) -> NativeReceiveWindow {
        NativeReceiveWindow(segmentSize: 10, fileSize: segments * 10, window: window, resumeFrom: resumeFrom)
    }

    func arrive(_ window: inout NativeReceiveWindow, _ segments: UInt64...) {
        for segment in segments { _ = window.receive(segment: segment, length: 10, timestamp: 0) }
    }

    @Test("segments in order: no loss, only arrivals")
    func inOrder() {
        var w = window()
        for segment in UInt64(0)..<100 { arrive(&w, segment) }
        #expect(w.reception == NativeReception(segments: 100))
        #expect(w.isComplete)
    }

    @Test("a gap is network loss when a later segment shows it, a repair when it arrives")
    func holesAndRepairs() {
        var w = window()
        arrive(&w, 0, 1, 4)
        #expect(w.reception == NativeReception(segments: 3, network: .init(lost: 2)))
        arrive(&w, 3)
        #expect(w.reception.network == .init(lost: 2, repaired: 1))
        arrive(&w, 5, 2)
        #expect(w.reception == NativeReception(segments: 6, network: .init(lost: 2, repaired: 2)))
    }

    @Test("a segment held already is a duplicate, below and above the cumulative point")
    func duplicates() {
        var w = window()
        arrive(&w, 0, 1, 3, 1, 3, 0)
        #expect(w.reception == NativeReception(segments: 6, duplicates: 3, network: .init(lost: 1)))
    }

    @Test("segments outside the window or of the wrong length count for nothing")
    func malformed() {
        var w = window(window: 8)
        #expect(w.receive(segment: 8, length: 10, timestamp: 0) == .outsideWindow)
        #expect(w.receive(segment: 500, length: 10, timestamp: 0) == .outsideWindow)
        #expect(w.receive(segment: 2, length: 9, timestamp: 0) == .wrongLength(expected: 10))
        #expect(w.reception == NativeReception())
    }

    @Test("a resumed window counts from its resume point: what it already held is no hole")
    func resumed() {
        var w = window(resumeFrom: 40)
        arrive(&w, 40, 42)
        #expect(w.reception == NativeReception(segments: 2, network: .init(lost: 1)))
    }

    @Test("a segment discarded at the frontier is lost to its cause once, not to the network again")
    func discardAtTheFrontier() {
        var w = window()
        arrive(&w, 0)
        w.discard(segment: 1, .simulatedLoss)
        w.discard(segment: 2, .storageBehind)
        arrive(&w, 3)
        #expect(
            w.reception
                == NativeReception(segments: 4, simulated: .init(lost: 1), storage: .init(lost: 1)))
        arrive(&w, 2, 1)
        #expect(
            w.reception
                == NativeReception(
                    segments: 6, simulated: .init(lost: 1, repaired: 1), storage: .init(lost: 1, repaired: 1)))
    }

    @Test("a discarded segment that arrives next, with nothing above it yet, is repaired under its cause")
    func discardThenRetransmission() {
        var w = window()
        w.discard(segment: 0, .simulatedLoss)
        arrive(&w, 0)
        #expect(w.reception == NativeReception(segments: 2, simulated: .init(lost: 1, repaired: 1)))
    }

    @Test("discarding a segment again keeps its first cause; every discard is a lost datagram")
    func discardTwice() {
        var w = window()
        w.discard(segment: 0, .storageBehind)
        w.discard(segment: 0, .simulatedLoss)
        arrive(&w, 1, 0)
        #expect(
            w.reception
                == NativeReception(segments: 4, simulated: .init(lost: 1), storage: .init(lost: 1, repaired: 1)))
    }

    @Test("discarding a known hole or a held segment counts the datagram, and the hole stays the network's")
    func discardBelowTheFrontier() {
        var w = window()
        arrive(&w, 0, 2)
        w.discard(segment: 1, .simulatedLoss)
        w.discard(segment: 2, .simulatedLoss)
        arrive(&w, 1)
        #expect(
            w.reception
                == NativeReception(segments: 5, network: .init(lost: 1, repaired: 1), simulated: .init(lost: 2)))
    }

    @Test("discards outside the window leave no mark behind")
    func discardOutsideTheWindow() {
        var w = window(segments: 300, window: 8)
        w.discard(segment: 8, .simulatedLoss)
        w.discard(segment: 1_000, .storageBehind)
        arrive(&w, 0, 1, 2, 3, 4, 5, 6, 7, 9)
        // Segment 8 was outside the window when discarded: its hole is the network's.
        #expect(w.reception.network.lost == 1)
        #expect(w.reception.simulated == .init(lost: 1) && w.reception.storage == .init(lost: 1))
    }

    /// The window against a model that keeps every segment in a set, over long random runs
    /// that wrap the ring many times: arrivals in and around the window, duplicates and
    /// discards of both kinds. The seed is printed; replay with P2MP_TEST_SEED.
    @Test("random runs over a wrapping ring count as a set-based model does")
    func againstAModel() {
        let seed = ProcessInfo.processInfo.environment["P2MP_TEST_SEED"].flatMap { UInt64($0) } ?? .random(in: 1...(.max))
        print("ReceptionCountingTests.againstAModel: random seed \(seed) (replay with P2MP_TEST_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        var seen = Set<String>()
        for run in 0..<200 {
            let windowSize = Int.random(in: 1...130, using: &random)
            let segments = UInt64.random(in: 1...2_000, using: &random)
            var w = NativeReceiveWindow(segmentSize: 10, fileSize: segments * 10, window: windowSize, resumeFrom: 0)
            var model = ReceptionModel(segmentCount: segments, window: UInt64(windowSize))
            var steps = 0
            while !w.isComplete, steps < 100_000 {
                steps += 1
                let segment = model.cumulative + UInt64.random(in: 0..<UInt64(windowSize) + 2, using: &random)
                switch Int.random(in: 0..<10, using: &random) {
                case 0:
                    w.discard(segment: segment, .simulatedLoss)
                    model.discard(segment, .simulated)
                case 1:
                    w.discard(segment: segment, .storageBehind)
                    model.discard(segment, .storage)
                default:
                    _ = w.receive(segment: segment, length: 10, timestamp: 0)
                    model.receive(segment)
                }
                if w.reception != model.reception {
                    Issue.record("seed \(seed) run \(run) step \(steps), segment \(segment): \(w.reception) != model \(model.reception)")
                    return
                }
            }
            #expect(w.isComplete, "seed \(seed) run \(run)")
            #expect(w.reception.network.repaired == w.reception.network.lost, "seed \(seed) run \(run)")
            let r = w.reception
            for (what, happened) in [
                ("network repairs", r.network.repaired > 0), ("simulated repairs", r.simulated.repaired > 0),
                ("storage repairs", r.storage.repaired > 0), ("duplicates", r.duplicates > 0),
            ] where happened { seen.insert(what) }
        }
        #expect(seen.count == 4, "the runs did not exercise every count: \(seen)")
    }
}

/// The counting rules written plainly, over sets.
private struct ReceptionModel {
    let segmentCount: UInt64
    let window: UInt64
    var held: Set<UInt64> = []
    var marks: [UInt64: NativeLossCause] = [:]
    var cumulative: UInt64 = 0
    var highest: UInt64 = 0
    var reception = NativeReception()

    mutating func receive(_ segment: UInt64) {
        if segment < cumulative || held.contains(segment) {
            reception.segments += 1
            reception.duplicates += 1
            return
        }
        guard segment < segmentCount, segment < cumulative + window else { return }
        reception.segments += 1
        if segment >= highest {
            reception.network.lost += UInt64((highest..<segment).filter { marks[$0] == nil }.count)
        }
        if let cause = marks.removeValue(forKey: segment) {
            reception[cause].repaired += 1
        } else if segment < highest {
            reception.network.repaired += 1
        }
        held.insert(segment)
        highest = max(highest, segment + 1)
        while held.contains(cumulative) { cumulative += 1 }
    }

    mutating func discard(_ segment: UInt64, _ cause: NativeLossCause) {
        reception.segments += 1
        reception[cause].lost += 1
        if segment >= highest, segment < segmentCount, segment < cumulative + window, marks[segment] == nil {
            marks[segment] = cause
        }
    }
}
