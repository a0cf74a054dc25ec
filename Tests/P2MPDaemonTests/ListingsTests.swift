import NIOCore
import P2MPProtocol
import Testing

@testable import P2MPDaemon

/// Listings: one walk of the spool at a time, shared by the requests that wait for it,
/// reused within a second unless the spool changed, and a bounded waiting room.
@Suite("Listings")
struct ListingsTests {
    let peer = DaemonPeer(address: try! SocketAddress(ipAddress: "127.0.0.1", port: 4_000))
    let other = DaemonPeer(address: try! SocketAddress(ipAddress: "127.0.0.2", port: 4_000))
    let start = Instant.zero + .seconds(100)

    func isAnswer(_ step: Listings.Step) -> Bool {
        if case .answer = step { true } else { false }
    }

    @Test("the first LIST walks, the next wait for that walk and are answered by it")
    func oneWalkServesEveryWaiter() {
        var listings = Listings()
        guard case .walk = listings.list(from: 0, requestID: 1, peer: peer, changes: 0, now: start) else {
            Issue.record("the first LIST did not start a walk")
            return
        }
        guard case .wait = listings.list(from: 0, requestID: 2, peer: other, changes: 0, now: start) else {
            Issue.record("a LIST during the walk started another")
            return
        }
        guard case .wait = listings.list(from: 0, requestID: 1, peer: peer, changes: 0, now: start) else {
            Issue.record("a repeated LIST was not folded into the waiting one")
            return
        }
        let answers = listings.walked(.success([]), now: start + .milliseconds(300))
        #expect(answers.map(\.requestID) == [1, 2] && answers.map(\.peer) == [peer, other])
    }

    @Test("a walk serves new listings for a second, unless the spool changed")
    func reuse() {
        var listings = Listings()
        _ = listings.list(from: 0, requestID: 1, peer: peer, changes: 0, now: start)
        _ = listings.walked(.success([]), now: start)
        #expect(isAnswer(listings.list(from: 0, requestID: 2, peer: other, changes: 0, now: start + .milliseconds(900))))
        guard case .walk = listings.list(from: 0, requestID: 3, peer: other, changes: 1, now: start + .milliseconds(900)) else {
            Issue.record("a listing after a change reused the walk from before it")
            return
        }
        _ = listings.walked(.success([]), now: start + .seconds(1))
        guard case .walk = listings.list(from: 0, requestID: 4, peer: peer, changes: 1, now: start + .seconds(3)) else {
            Issue.record("a walk was reused after more than a second")
            return
        }
    }

    @Test("at most 256 requests wait; the rest are told busy")
    func boundedWaiting() {
        var listings = Listings()
        for request in 0..<UInt64(Listings.maximumWaiting) {
            _ = listings.list(from: 0, requestID: request, peer: peer, changes: 0, now: start)
        }
        guard case .busy(let result) = listings.list(from: 0, requestID: 999, peer: peer, changes: 0, now: start) else {
            Issue.record("a request beyond the waiting room was queued")
            return
        }
        #expect(result.text.hasPrefix("busy: 256 listings wait"))
        #expect(listings.walked(.success([]), now: start).count == Listings.maximumWaiting)
    }
}
