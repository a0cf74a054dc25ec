@preconcurrency import Crypto
import P2MPSecurity
import P2MPWire
import Testing

typealias Links = SecureLinks<SplitMix64>

/// One link's exchanges with a daemon's sessions, moved by hand.
struct LinkHarness {
    var links: Links
    var daemon: Sessions
    var buffer = [UInt8](repeating: 0, count: SecureDatagram.maximumSealedSize)

    init(renewAfter: Duration?, hostKey: Initiator.HostKeyPolicy = .pinned(Keys.responderKey), giveUpAfter: Duration = .seconds(30)) {
        links = Links(
            identity: Keys.initiator, hostKeys: [hostKey], configuration: .init(giveUpAfter: giveUpAfter), renewAfter: renewAfter,
            random: SplitMix64(seed: 50), now: .zero)
        daemon = Self.daemon(seed: 51)
    }

    /// A daemon with the responder's host key; a new one is what a restart leaves.
    static func daemon(seed: UInt64, identity: Curve25519.Signing.PrivateKey = Keys.responder) -> Sessions {
        Sessions(identity: identity, trustedSenders: Keys.trusting(Keys.initiatorKey), random: SplitMix64(seed: seed), now: .zero)
    }

    /// Handshake messages both ways until neither side has any.
    mutating func exchange(now: Duration) {
        for _ in 0..<4 {
            sendHandshakes(now: now)
            deliverDaemonReplies(now: now)
        }
    }

    /// The link's handshake messages, to the daemon.
    mutating func sendHandshakes(now: Duration) {
        while let (_, size) = buffer.withUnsafeMutableBytes({ links.pollTransmit(into: $0) }) {
            _ = daemon.open(Array(buffer[..<size]), from: .sender, now: now)
        }
    }

    /// The daemon's handshake replies, to the link.
    mutating func deliverDaemonReplies(now: Duration) {
        while let (_, size) = buffer.withUnsafeMutableBytes({ daemon.pollTransmit(into: $0) }) {
            let datagram = Array(buffer[..<size])
            _ = datagram.withUnsafeBytes { bytes in
                buffer.withUnsafeMutableBytes { links.handle(bytes, from: 0, now: now, plaintext: $0) }
            }
        }
    }

    mutating func events() -> [Links.Event] {
        var events: [Links.Event] = []
        while let event = links.pollEvent() { events.append(event) }
        return events
    }

    /// Seals `plaintext` for the daemon at `now`; nil when the link has no session.
    mutating func seal(_ plaintext: [UInt8], now: Duration) -> [UInt8]? {
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SecureDatagram.sealedOverhead)
        let size = sealed.withUnsafeMutableBytes { destination in
            plaintext.withUnsafeBytes { links.seal($0, for: 0, into: destination, now: now) }
        }
        return size.map { Array(sealed[..<$0]) }
    }

    /// The daemon answers `request` through the session it arrived in; false when the
    /// request did not open there.
    mutating func answer(_ request: [UInt8]?, now: Duration) -> Bool {
        guard let request else { return false }
        var plaintext = [UInt8](repeating: 0, count: request.count)
        let received = request.withUnsafeBytes { bytes in
            plaintext.withUnsafeMutableBytes { daemon.handle(bytes, from: .sender, now: now, plaintext: $0) }
        }
        guard case .plaintext(let size, let session) = received else { return false }
        var reply = [UInt8](repeating: 0, count: size + SecureDatagram.sealedOverhead)
        let sealed = reply.withUnsafeMutableBytes { destination in
            plaintext.withUnsafeBytes { daemon.seal(UnsafeRawBufferPointer(rebasing: $0[..<size]), for: session, into: destination) }
        }
        guard let sealed else { return false }
        let answer = Array(reply[..<sealed.size])
        let opened = answer.withUnsafeBytes { bytes in buffer.withUnsafeMutableBytes { links.handle(bytes, from: 0, now: now, plaintext: $0) } }
        return opened == .plaintext(size: size)
    }
}

@Suite struct SecureLinksTests {
    @Test func aSessionWhoseDaemonRestartedIsRenewedAndTheMachineIsTold() {
        var harness = LinkHarness(renewAfter: .seconds(5))
        harness.exchange(now: .zero)
        guard case .ready(target: 0, _)? = harness.events().first else {
            Issue.record("no session")
            return
        }
        let answered = harness.answer(harness.seal([1], now: .seconds(1)), now: .seconds(1))
        #expect(answered && harness.links.nextTimeout == nil)
        // The daemon restarts: what the link seals now goes unanswered.
        harness.daemon = LinkHarness.daemon(seed: 52)
        let lost = harness.seal([2], now: .seconds(2))
        #expect(lost != nil && harness.links.nextTimeout == .seconds(7))
        harness.links.handleTimeout(now: .seconds(6))
        let stillSealing = harness.seal([3], now: .seconds(6))
        harness.links.handleTimeout(now: .seconds(7))
        let whileShakingHands = harness.seal([4], now: .seconds(7))
        #expect(stillSealing != nil && whileShakingHands == nil)
        harness.exchange(now: .seconds(7))
        guard case .renewed(target: 0)? = harness.events().first else {
            Issue.record("the renewal was not reported")
            return
        }
        let answeredAgain = harness.answer(harness.seal([5], now: .seconds(8)), now: .seconds(8))
        #expect(answeredAgain)
    }

    @Test func aLinkWithoutRenewalStaysWithItsSession() {
        var harness = LinkHarness(renewAfter: nil)
        harness.exchange(now: .zero)
        _ = harness.events()
        let unanswered = harness.seal([1], now: .seconds(1))
        #expect(unanswered != nil && harness.links.nextTimeout == nil)
        harness.links.handleTimeout(now: .seconds(100))
        let later = harness.seal([2], now: .seconds(100))
        #expect(later != nil)
    }

    /// The daemon answered INITIATE, then restarted: CONFIRM reaches a responder that never
    /// saw it and is dropped. The link starts over instead of repeating it until it gives up.
    @Test func aHandshakeWhoseConfirmGoesUnansweredStartsOver() {
        var harness = LinkHarness(renewAfter: .seconds(5))
        harness.sendHandshakes(now: .zero)
        harness.deliverDaemonReplies(now: .zero)
        harness.daemon = LinkHarness.daemon(seed: 53)
        while let time = harness.links.nextTimeout, time < .seconds(5) {
            harness.links.handleTimeout(now: time)
            harness.exchange(now: time)  // CONFIRM, again and again, to a daemon that drops it.
        }
        #expect(harness.events().isEmpty && harness.links.nextTimeout == .seconds(5))
        harness.links.handleTimeout(now: .seconds(5))
        harness.exchange(now: .seconds(5))
        guard case .ready(target: 0, _)? = harness.events().first else {
            Issue.record("the new handshake did not complete")
            return
        }
    }

    /// However often its CONFIRM goes unanswered, a link that never had a session gives up
    /// when its first handshake would have.
    @Test func startingOverNeverOutlivesTheFirstHandshakesDeadline() {
        var harness = LinkHarness(renewAfter: .seconds(2), giveUpAfter: .seconds(9))
        var buffer = [UInt8](repeating: 0, count: 512)
        var now = Duration.zero
        var handshakes = 0
        var outcome: Links.Event?
        while now <= .seconds(60) {
            // The daemon answers every INITIATE; every CONFIRM is lost.
            while let (_, size) = buffer.withUnsafeMutableBytes({ harness.links.pollTransmit(into: $0) }) {
                guard buffer[3] == SecureMessageType.initiate.rawValue else { continue }
                handshakes += 1
                _ = harness.daemon.open(Array(buffer[..<size]), from: .sender, now: now)
                harness.deliverDaemonReplies(now: now)
            }
            if let event = harness.events().first {
                outcome = event
                break
            }
            guard let next = harness.links.nextTimeout else { break }
            now = next
            harness.links.handleTimeout(now: now)
        }
        #expect(now == .seconds(9) && handshakes >= 3, "gave up at \(now) after \(handshakes) handshakes")
        guard case .failed(target: 0, .noAnswer)? = outcome else {
            Issue.record("the link did not give up: \(String(describing: outcome))")
            return
        }
    }

    /// A renewal proves the key the first session proved, even when the first trusted any.
    @Test func aRenewalPinsTheKeyTheFirstSessionProved() {
        var harness = LinkHarness(renewAfter: .seconds(5), hostKey: .acceptNew)
        harness.exchange(now: .zero)
        _ = harness.events()
        _ = harness.seal([1], now: .seconds(1))
        harness.daemon = LinkHarness.daemon(seed: 54, identity: Keys.stranger)
        harness.links.handleTimeout(now: .seconds(6))
        harness.exchange(now: .seconds(6))
        #expect(harness.events().isEmpty)
        harness.links.handleTimeout(now: .seconds(16))
        guard case .failed(target: 0, .hostKeyChanged(let expected, let received))? = harness.events().first else {
            Issue.record("a renewal accepted another key")
            return
        }
        #expect(expected == Keys.responderKey && received == Keys.strangerKey)
    }
}
