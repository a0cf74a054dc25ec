import P2MPWire
import Testing

@testable import P2MPProtocol

@Suite("Delivery-rate samples and the windowed maximum")
struct DeliveryRateSamplerTests {
    func at(_ milliseconds: Int64) -> Instant { .zero + .milliseconds(milliseconds) }

    /// A sender that sends a segment every millisecond; each is acknowledged `rtt` later.
    /// Returns every sample taken after the first two round trips (segments sent before the
    /// first acknowledgement see an empty pipe behind them).
    func steadyFlow(rtt: Int64, milliseconds: Int64, compressEvery burst: Int64 = 1) -> [DeliveryRateSampler.Sample] {
        var sampler = DeliveryRateSampler()
        var samples: [DeliveryRateSampler.Sample] = []
        var acknowledged: UInt64 = 0
        for time in 0..<milliseconds {
            let inFlight = Int(min(time, rtt))
            sampler.onTransmit(segment: UInt64(time), isRetransmission: false, inFlight: inFlight, now: at(time))
            // Acknowledgements of segments sent up to time - rtt, every `burst` ms at once.
            let due = time - rtt
            guard due >= 0, (due + 1) % burst == 0 else { continue }
            let newly = Int(UInt64(due + 1) - acknowledged)
            acknowledged = UInt64(due + 1)
            if let sample = sampler.onAcknowledgement(
                newlyDelivered: newly, cumulative: acknowledged, selective: [], echoSentAt: at(due),
                minimumInterval: .milliseconds(rtt), now: at(time))
            {
                if time >= 2 * rtt { samples.append(sample) }
            }
        }
        return samples
    }

    @Test("a steady flow of 1,000 segments per second is sampled at 1,000 segments per second")
    func steady() {
        let samples = steadyFlow(rtt: 20, milliseconds: 400)
        #expect(samples.count > 20)
        for sample in samples {
            #expect(abs(sample.rate - 1_000) < 60, "\(sample.rate)")
        }
    }

    @Test("acknowledgements arriving in bursts of 10 do not raise the rate above what was sent")
    func compression() {
        let samples = steadyFlow(rtt: 20, milliseconds: 400, compressEvery: 10)
        #expect(!samples.isEmpty)
        #expect(samples.allSatisfy { $0.rate < 1_100 }, "\(samples.map(\.rate))")
    }

    @Test("a tracked segment sent again gives no sample: its acknowledgement may be for either copy")
    func retransmission() {
        var sampler = DeliveryRateSampler()
        sampler.onTransmit(segment: 0, isRetransmission: false, inFlight: 0, now: at(0))
        sampler.onTransmit(segment: 0, isRetransmission: true, inFlight: 0, now: at(30))
        let sample = sampler.onAcknowledgement(
            newlyDelivered: 1, cumulative: 1, selective: [], echoSentAt: at(30), minimumInterval: .zero, now: at(50))
        #expect(sample == nil)
        #expect(sampler.delivered == 1)
    }

    @Test("segments sent while there was nothing more to send give application-limited samples")
    func applicationLimited() {
        var sampler = DeliveryRateSampler()
        sampler.onApplicationLimited(inFlight: 0)
        sampler.onTransmit(segment: 0, isRetransmission: false, inFlight: 0, now: at(0))
        let sample = sampler.onAcknowledgement(
            newlyDelivered: 1, cumulative: 1, selective: [], echoSentAt: at(0), minimumInterval: .zero, now: at(20))
        #expect(sample?.isApplicationLimited == true)
    }

    @Test("a SACKed tracked segment is sampled as a cumulatively acknowledged one is")
    func selective() {
        var sampler = DeliveryRateSampler()
        for segment in UInt64(0)..<4 {
            sampler.onTransmit(segment: segment, isRetransmission: false, inFlight: Int(segment), now: at(Int64(segment)))
        }
        let sample = sampler.onAcknowledgement(
            newlyDelivered: 3, cumulative: 0, selective: [1..<4], echoSentAt: at(3), minimumInterval: .zero, now: at(23))
        #expect(sample != nil)
    }

    @Test("the windowed maximum keeps the best of the last rounds, and of the last lifetime when that is longer")
    func windowedMaximum() {
        var filter = WindowedMaximum(rounds: 3)
        filter.update(10, round: 1, now: at(0))
        filter.update(5, round: 2, now: at(0))
        filter.update(7, round: 3, now: at(0))
        #expect(filter.maximum == 10)
        filter.update(6, round: 4, now: at(0))
        #expect(filter.maximum == 7)
        filter.update(9, round: 4, now: at(0))
        #expect(filter.maximum == 9)
        filter.update(1, round: 20, now: at(0))
        #expect(filter.maximum == 1)

        var lasting = WindowedMaximum(rounds: 3, lifetime: .milliseconds(100))
        lasting.update(10, round: 1, now: at(0))
        lasting.update(5, round: 10, now: at(50))
        #expect(lasting.maximum == 10)
        lasting.update(5, round: 11, now: at(101))
        #expect(lasting.maximum == 5)
    }
}
