import P2MPProtocol
import Testing

@Suite("RFC 6298 estimator")
struct RTTEstimatorTests {
    let bounds = RTTEstimator.Bounds(initial: .seconds(1), minimum: .milliseconds(1), maximum: .seconds(60))

    @Test("before any sample the timeout is the initial one")
    func initialTimeout() {
        #expect(RTTEstimator(bounds: bounds).timeout == .seconds(1))
    }

    @Test("the first sample sets SRTT = R and RTTVAR = R/2 (RFC 6298 2.2)")
    func firstSample() {
        var estimator = RTTEstimator(bounds: bounds)
        estimator.addSample(.milliseconds(100))
        #expect(estimator.smoothed == .milliseconds(100))
        // RTO = SRTT + 4 * RTTVAR = 100 + 4 * 50.
        #expect(estimator.timeout == .milliseconds(300))
    }

    @Test("later samples are smoothed with alpha 1/8 and beta 1/4 (RFC 6298 2.3)")
    func laterSamples() {
        var estimator = RTTEstimator(bounds: bounds)
        estimator.addSample(.milliseconds(100))
        estimator.addSample(.milliseconds(200))
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
        #expect(estimator.smoothed == .microseconds(112_500))
        #expect(estimator.timeout == .microseconds(112_500 + 250_000))
    }

    @Test("timeouts double the RTO up to the maximum, a new sample resets the backoff")
    func backoff() {
        var estimator = RTTEstimator(bounds: .init(initial: .seconds(1), minimum: .milliseconds(1), maximum: .seconds(5)))
        estimator.backOff()
        #expect(estimator.timeout == .seconds(2))
        estimator.backOff()
        estimator.backOff()
        #expect(estimator.timeout == .seconds(5))
        estimator.addSample(.milliseconds(10))
        #expect(estimator.timeout == .milliseconds(30))
    }

    @Test("the minimum clamps tiny RTTs")
    func minimum() {
        var estimator = RTTEstimator(bounds: .standard)
        estimator.addSample(.microseconds(50))
        #expect(estimator.timeout == RTTEstimator.Bounds.standard.minimum)
    }
}
