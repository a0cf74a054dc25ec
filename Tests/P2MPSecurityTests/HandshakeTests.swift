import P2MPSecurity
import P2MPWire
import Testing

@Suite struct HandshakeTests {
    @Test func bothSidesEstablishOneSessionWithTheGrantedRights() throws {
        var responder = makeResponder(trusting: Keys.trusting(Keys.initiatorKey, [.push, .manage], prefix: "apps/"))
        let (_, record, _) = handshake(responder: &responder, seed: 1)
        let recorded = try #require(record)
        let sender = recorded.initiatorSession
        let receiver = recorded.responderSession
        #expect(sender.peerKey == Keys.responderKey)
        #expect(receiver.peerKey == Keys.initiatorKey)
        #expect(sender.localSession == receiver.remoteSession && sender.remoteSession == receiver.localSession)
        #expect(sender.rights == [.push, .manage] && receiver.rights == [.push, .manage])
        #expect(receiver.namePrefix == "apps/" && sender.namePrefix == nil)
        #expect(responder.statistics.established == 1)

        var toReceiver = sender.sealer
        var atReceiver = receiver.opener
        var toSender = receiver.sealer
        var atSender = sender.opener
        #expect(atReceiver.open(toReceiver.seal(Array("offer".utf8))) == Array("offer".utf8))
        #expect(atSender.open(toSender.seal(Array("accept".utf8))) == Array("accept".utf8))
        // Each direction has its own key: a datagram cannot be reflected back to its sender.
        let reflected = toReceiver.seal([1, 2, 3])
        var reflectedHeader = reflected
        reflectedHeader.replaceSubrange(4..<12, with: bigEndian(sender.localSession))
        #expect(atSender.open(reflectedHeader) == nil)
        #expect(atSender.statistics.forged == 1)
    }

    @Test func messageSizesNeverGrowTowardAnUnauthenticatedSource() throws {
        var responder = makeResponder()
        let recorded = try #require(handshake(responder: &responder, seed: 2).record)
        #expect(recorded.initiate.count == 256)
        #expect(recorded.response.count <= recorded.initiate.count)
        #expect(recorded.done.count <= recorded.confirm.count)
        var loaded = makeResponder(configuration: .init(cookieThreshold: 0))
        var random = SplitMix64(seed: 3)
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        let initiate = try #require(initiator.transmits().first)
        loaded.handle(initiate, from: .sender, now: .zero)
        let retry = try #require(loaded.transmits().first?.datagram)
        #expect(retry.count <= initiate.count)
        // The longest refusal text is cut so DONE stays below CONFIRM.
        #expect(SecureDatagram.maximumDoneSize <= SecureDatagram.confirmSize)
    }

    @Test func anUntrustedKeyIsRefusedWithItsFingerprintAndGetsNoSession() throws {
        var responder = makeResponder(trusting: Keys.trusting(Keys.strangerKey))
        let (_, record, failure) = handshake(responder: &responder, seed: 4)
        #expect(record == nil)
        guard case .refused(let reason) = failure else {
            Issue.record("the initiator was not told it was refused")
            return
        }
        #expect(reason.contains(Keys.initiatorKey.fingerprint))
        #expect(responder.statistics.refused == 1 && responder.statistics.established == 0)
    }

    @Test func aResponderWithAnotherHostKeyFailsThePinnedHandshakeOnceTheGraceIsOver() {
        var responder = makeResponder()
        let attempt = handshake(responder: &responder, seed: 5, hostKey: .pinned(Keys.strangerKey))
        var initiator = attempt.initiator
        #expect(attempt.record == nil && attempt.failure == nil && initiator.statistics.wrongHostKey == 1)
        #expect(initiator.nextTimeout.map { $0 <= initiator.configuration.hostKeyGrace } == true)
        initiator.handleTimeout(now: initiator.configuration.hostKeyGrace)
        guard case .failed(.hostKeyChanged(let expected, let received))? = initiator.events().first else {
            Issue.record("a changed host key was not reported")
            return
        }
        #expect(expected == Keys.strangerKey && received == Keys.responderKey)
        // It never revealed its identity to the other host: no CONFIRM left.
        #expect(responder.statistics.unknownSession + responder.statistics.forged == 0)
        #expect(responder.statistics.established + responder.statistics.refused == 0)
    }

    @Test func anUnknownHostKeyIsReportedAndAcceptNewGoesOn() throws {
        var responder = makeResponder()
        let (_, record, failure) = handshake(responder: &responder, seed: 6, hostKey: .reportUnknown)
        #expect(record == nil)
        guard case .unknownHostKey(let key) = failure else {
            Issue.record("an unknown host key was not reported")
            return
        }
        #expect(key == Keys.responderKey)
        let accepted = try #require(handshake(responder: &responder, seed: 7, hostKey: .acceptNew).record)
        #expect(accepted.initiatorSession.peerKey == Keys.responderKey)
    }

    @Test func everyFlippedByteOfEveryMessageIsRejected() throws {
        // Record one honest handshake, then replay it against fresh machines with one byte of
        // one message flipped: no variant may establish anything on either side.
        var reference = makeResponder()
        let recorded = try #require(handshake(responder: &reference, seed: 8).record)
        let messages = [recorded.initiate, recorded.response, recorded.confirm, recorded.done]
        for (index, message) in messages.enumerated() {
            for position in message.indices {
                var tampered = message
                tampered[position] ^= 0x01 << UInt8(position % 8)
                let outcome = replayHandshake(seed: 8, replacing: index, with: tampered)
                // DONE is the last message: the responder had established before sending it.
                let accepted = outcome.initiatorEstablished || (index < 3 && outcome.responderEstablished)
                #expect(!accepted, "message \(index) with byte \(position) flipped was accepted")
            }
        }
    }

    @Test func aCapturedSessionReplayedToTheResponderGetsNowhere() throws {
        var responder = makeResponder()
        let recorded = try #require(handshake(responder: &responder, seed: 9).record)
        // A later responder (the same host key, the daemon restarted or time moved on): the
        // replayed INITIATE gets a fresh RESPONSE (a new ephemeral key), and the captured
        // CONFIRM does not fit it.
        var later = makeResponder(seed: 100)
        later.handle(recorded.initiate, from: .other, now: .zero)
        let fresh = try #require(later.transmits().first?.datagram)
        #expect(fresh != recorded.response)
        later.handle(recorded.confirm, from: .other, now: .zero)
        #expect(later.statistics.unknownSession == 1 && later.statistics.established == 0)
        // The same responder, with the handshake still lingering: the repeated CONFIRM only
        // repeats DONE (no second session), a repeated INITIATE only repeats RESPONSE.
        responder.handle(recorded.confirm, from: .other, now: .seconds(1))
        responder.handle(recorded.initiate, from: .other, now: .seconds(1))
        let repeats = responder.transmits().map(\.datagram)
        #expect(repeats == [recorded.done, recorded.response])
        #expect(responder.events().isEmpty && responder.statistics.established == 1)
    }

    @Test func lostMessagesAreRetransmittedWithBackoffAndAnsweredFromTheCache() throws {
        var random = SplitMix64(seed: 10)
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        var responder = makeResponder()
        let first = try #require(initiator.transmits().first)
        #expect(initiator.nextTimeout == .milliseconds(250))
        initiator.handleTimeout(now: .milliseconds(250))
        #expect(initiator.transmits() == [first])
        #expect(initiator.nextTimeout == .milliseconds(750))
        // The answer to the second copy is lost, the third copy gets the same answer.
        responder.handle(first, from: .sender, now: .milliseconds(251))
        _ = responder.transmits()
        initiator.handleTimeout(now: .milliseconds(750))
        let third = try #require(initiator.transmits().first)
        responder.handle(third, from: .sender, now: .milliseconds(752))
        let response = try #require(responder.transmits().first?.datagram)
        #expect(responder.statistics.repeatsAnswered == 1 && responder.halfOpenCount == 1)
        initiator.handle(response, now: .milliseconds(753))
        let confirm = try #require(initiator.transmits().first)
        // CONFIRM's timer starts again from the initial timeout.
        #expect(initiator.nextTimeout == .milliseconds(1_003))
        responder.handle(confirm, from: .sender, now: .milliseconds(754))
        _ = responder.transmits()  // DONE lost
        initiator.handleTimeout(now: .milliseconds(1_003))
        let again = try #require(initiator.transmits().first)
        #expect(again == confirm)
        responder.handle(again, from: .sender, now: .milliseconds(1_004))
        let done = try #require(responder.transmits().first?.datagram)
        initiator.handle(done, now: .milliseconds(1_005))
        guard case .established = initiator.events().first else {
            Issue.record("the handshake did not survive the losses")
            return
        }
        #expect(responder.statistics.established == 1 && initiator.nextTimeout == nil)
    }

    @Test func silenceFailsTheHandshakeAfterGiveUp() {
        var random = SplitMix64(seed: 11)
        var initiator = Initiator(
            identity: Keys.initiator, hostKey: .pinned(Keys.responderKey),
            configuration: .init(giveUpAfter: .seconds(3)), random: &random, now: .zero)
        var sent = initiator.transmits().count
        var now = Duration.zero
        while let deadline = initiator.nextTimeout {
            now = deadline
            initiator.handleTimeout(now: now)
            sent += initiator.transmits().count
        }
        #expect(now == .seconds(3))
        // At 0, 0.25, 0.75 and 1.75 s (the timeout doubles); the next would be at 3.75 s.
        #expect(sent == 4)
        guard case .failed(.noAnswer) = initiator.events().first else {
            Issue.record("silence did not fail the handshake")
            return
        }
    }

    /// Anyone with a key of their own can answer an INITIATE they saw with a valid RESPONSE.
    /// Injected ahead of the real one, it must not end the handshake.
    @Test func anImpostorsResponseAheadOfTheRealOneDoesNotEndTheHandshake() throws {
        var random = SplitMix64(seed: 14)
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        let initiate = try #require(initiator.transmits().first)
        var impostor = Responder(
            identity: Keys.stranger, trustedSenders: TrustedSenders(), random: SplitMix64(seed: 15), now: .zero)
        impostor.handle(initiate, from: .sender, now: .zero)
        initiator.handle(try #require(impostor.transmits().first?.datagram), now: .milliseconds(1))
        #expect(initiator.events().isEmpty && initiator.transmits().isEmpty && initiator.statistics.wrongHostKey == 1)
        // The real host's RESPONSE comes a second later (after one retransmission) and wins.
        initiator.handleTimeout(now: .milliseconds(250))
        var responder = makeResponder()
        responder.handle(try #require(initiator.transmits().first), from: .sender, now: .seconds(1))
        initiator.handle(try #require(responder.transmits().first?.datagram), now: .seconds(1))
        responder.handle(try #require(initiator.transmits().first), from: .sender, now: .seconds(1))
        initiator.handle(try #require(responder.transmits().first?.datagram), now: .seconds(1))
        guard case .established(let session)? = initiator.events().first else {
            Issue.record("the impostor's RESPONSE ended the handshake")
            return
        }
        #expect(session.peerKey == Keys.responderKey)
        // Past the grace nothing fails any more.
        initiator.handleTimeout(now: initiator.configuration.hostKeyGrace * 2)
        #expect(initiator.events().isEmpty)
    }

    @Test func injectedJunkNeverEndsAHandshake() throws {
        var random = SplitMix64(seed: 12)
        print("seed 12")
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        let initiate = try #require(initiator.transmits().first)
        var junk = SplitMix64(seed: 13)
        for size in [0, 11, 12, 28, 196, 197, 300] {
            var datagram = (0..<size).map { _ in UInt8(truncatingIfNeeded: junk.next()) }
            if size >= 12 {
                datagram.replaceSubrange(0..<4, with: [0x50, 0x32, 0x02, SecureMessageType.response.rawValue])
                datagram.replaceSubrange(4..<12, with: bigEndian(initiator.localSession))
            }
            initiator.handle(datagram, now: .milliseconds(1))
        }
        #expect(initiator.events().isEmpty && !initiator.isFinished)
        #expect(initiator.statistics.forged == 1 && initiator.statistics.ignored == 6)
        var responder = makeResponder()
        responder.handle(initiate, from: .sender, now: .milliseconds(2))
        initiator.handle(try #require(responder.transmits().first?.datagram), now: .milliseconds(3))
        responder.handle(try #require(initiator.transmits().first), from: .sender, now: .milliseconds(4))
        initiator.handle(try #require(responder.transmits().first?.datagram), now: .milliseconds(5))
        guard case .established = initiator.events().first else {
            Issue.record("junk ended the handshake")
            return
        }
    }
}

/// Replays the handshake of `seed` against fresh machines with message `index` replaced.
func replayHandshake(seed: UInt64, replacing index: Int, with replacement: [UInt8]) -> (
    initiatorEstablished: Bool, responderEstablished: Bool
) {
    var random = SplitMix64(seed: seed)
    var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
    var responder = makeResponder()
    var count = 0
    var initiatorEstablished = false
    var responderEstablished = false
    func swap(_ datagram: [UInt8]) -> [UInt8] {
        defer { count += 1 }
        return count == index ? replacement : datagram
    }
    for _ in 0..<4 {
        for datagram in initiator.transmits() { responder.handle(swap(datagram), from: .sender, now: .zero) }
        for (_, datagram) in responder.transmits() { initiator.handle(swap(datagram), now: .zero) }
        for event in responder.events() {
            if case .established = event { responderEstablished = true }
        }
        for event in initiator.events() {
            if case .established = event { initiatorEstablished = true }
        }
    }
    return (initiatorEstablished, responderEstablished)
}

func bigEndian(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
}
