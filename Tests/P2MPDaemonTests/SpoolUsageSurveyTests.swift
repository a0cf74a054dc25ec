import NIOCore
import P2MPProtocol
import P2MPSpool
import Testing

@testable import P2MPDaemon

/// `SpoolUsageSurvey`: STATUS requests share one survey of the spool at a time, reuse it
/// for a second unless the spool changed, and wait in a bounded queue.
@Suite("spool usage survey")
struct SpoolUsageSurveyTests {
    static func request(_ id: UInt64, port: Int = 1) throws -> SpoolUsageSurvey.Request {
        SpoolUsageSurvey.Request(requestID: id, peer: DaemonPeer(address: try SocketAddress(ipAddress: "127.0.0.1", port: port)), cursor: 0)
    }

    static let usage = Spool.Usage(files: 2, bytes: 10)

    @Test("the first request starts a survey, the others wait for it, and all are answered by it")
    func shared() throws {
        var survey = SpoolUsageSurvey()
        #expect(survey.usage(for: try Self.request(1), changes: 0, now: .zero) == .survey)
        #expect(survey.usage(for: try Self.request(2, port: 2), changes: 0, now: .zero) == .wait)
        #expect(survey.usage(for: try Self.request(1), changes: 0, now: .zero) == .wait, "a repeated request waits once")
        #expect(try survey.surveyed(Self.usage, now: .zero) == [Self.request(1), Self.request(2, port: 2)])
        #expect(survey.surveyed(nil, now: .zero).isEmpty)
    }

    @Test("a survey serves for a second, unless the spool changed; a failed one serves nobody later")
    func reuse() throws {
        var survey = SpoolUsageSurvey()
        _ = survey.usage(for: try Self.request(1), changes: 3, now: .zero)
        _ = survey.surveyed(Self.usage, now: .zero)
        #expect(survey.usage(for: try Self.request(2), changes: 3, now: .zero + .milliseconds(999)) == .ready(Self.usage))
        #expect(survey.usage(for: try Self.request(3), changes: 4, now: .zero + .milliseconds(999)) == .survey)
        _ = survey.surveyed(nil, now: .zero + .seconds(1))
        #expect(survey.usage(for: try Self.request(4), changes: 3, now: .zero + .seconds(1)) == .survey)
    }

    @Test("at most 256 requests wait; the next is told busy")
    func bounded() throws {
        var survey = SpoolUsageSurvey()
        for id in 0..<UInt64(SpoolUsageSurvey.maximumWaiting) {
            _ = survey.usage(for: try Self.request(id), changes: 0, now: .zero)
        }
        guard case .busy(let result) = survey.usage(for: try Self.request(999), changes: 0, now: .zero) else {
            Issue.record("expected busy")
            return
        }
        #expect(result.text.contains("256 status requests wait"))
        #expect(survey.surveyed(Self.usage, now: .zero).count == SpoolUsageSurvey.maximumWaiting)
    }
}
