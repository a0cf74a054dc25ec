import P2MPSecurity
import P2MPWire
import Testing

@Suite struct CookieTests {
    /// An INITIATE from a would-be initiator whose ephemeral key is 32 random bytes.
    static func initiate(session: UInt64, random: inout SplitMix64, cookie: [UInt8]? = nil) -> [UInt8] {
        var datagram = [UInt8](repeating: 0, count: SecureDatagram.initiateSize)
        let key = (0..<4).flatMap { _ in bigEndian(random.next()) }
        datagram.withUnsafeMutableBytes { datagram in
            key.withUnsafeBytes { key in
                if let cookie {
                    cookie.withUnsafeBytes {
                        _ = SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: key, cookie: $0, to: datagram)
                    }
                } else {
                    _ = SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: key, cookie: nil, to: datagram)
                }
            }
        }
        return datagram
    }

    @Test func underLoadAnInitiateWithoutCookieGetsARetryAndLeavesNoState() throws {
        var responder = makeResponder(configuration: .init(cookieThreshold: 0))
        var random = SplitMix64(seed: 30)
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        responder.handle(try #require(initiator.transmits().first), from: .sender, now: .zero)
        #expect(responder.halfOpenCount == 0 && responder.statistics.retriesSent == 1)
        let retry = try #require(responder.transmits().first)
        #expect(retry.datagram[3] == SecureMessageType.retry.rawValue)
        initiator.handle(retry.datagram, now: .milliseconds(1))
        for _ in 0..<3 {
            for datagram in initiator.transmits() { responder.handle(datagram, from: .sender, now: .milliseconds(2)) }
            for (_, datagram) in responder.transmits() { initiator.handle(datagram, now: .milliseconds(3)) }
        }
        guard case .established = initiator.events().first else {
            Issue.record("the cookie path did not establish")
            return
        }
        #expect(responder.statistics.established == 1 && responder.statistics.retriesSent == 1)
    }

    @Test func aCookieIsValidOnlyForItsAddressAndItsInitiate() throws {
        var responder = makeResponder(configuration: .init(cookieThreshold: 0))
        var random = SplitMix64(seed: 31)
        let first = Self.initiate(session: 7, random: &random)
        responder.handle(first, from: .sender, now: .zero)
        let retry = try #require(responder.transmits().first?.datagram)
        let cookie = Array(retry[12..<28])
        // Echoed from another address, or with another ephemeral key, or with a flipped bit.
        responder.handle(Self.initiate(session: 7, random: &random, cookie: cookie), from: .sender, now: .zero)
        var withCookie = first
        withCookie[44] = 1
        withCookie.replaceSubrange(45..<61, with: cookie)
        responder.handle(withCookie, from: .other, now: .zero)
        var flipped = withCookie
        flipped[50] ^= 4
        responder.handle(flipped, from: .sender, now: .zero)
        #expect(responder.statistics.badCookies == 3 && responder.halfOpenCount == 0)
        // Each counts as an INITIATE without a cookie: under load, a fresh RETRY and no state.
        let retries = responder.transmits()
        #expect(retries.count == 3 && retries.allSatisfy { $0.datagram.count == SecureDatagram.retrySize })
        responder.handle(withCookie, from: .sender, now: .zero)
        #expect(responder.halfOpenCount == 1 && responder.statistics.responsesSent == 1)
    }

    /// RETRY is not authenticated: one forged for the initiator's session (its id is in the
    /// clear) makes it echo a made-up cookie. That must cost a round trip, not the handshake.
    @Test(arguments: [(threshold: 256, load: "idle"), (threshold: 0, load: "loaded")])
    func aForgedRetryCostsTheInitiatorARoundTripNotItsHandshake(threshold: Int, load: String) throws {
        var responder = makeResponder(configuration: .init(cookieThreshold: threshold))
        var random = SplitMix64(seed: 37)
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        _ = initiator.transmits()  // The first INITIATE is lost; the attacker saw it.
        var forged = [UInt8](repeating: 0, count: SecureDatagram.retrySize)
        forged.withUnsafeMutableBytes { retry in
            [UInt8](repeating: 0xEE, count: SecureDatagram.cookieSize).withUnsafeBytes {
                _ = SecureDatagram.writeRetry(initiatorSession: initiator.localSession, cookie: $0, to: retry)
            }
        }
        initiator.handle(forged, now: .milliseconds(1))
        for step in 2..<8 {
            for datagram in initiator.transmits() { responder.handle(datagram, from: .sender, now: .milliseconds(Int64(step))) }
            for (_, datagram) in responder.transmits() { initiator.handle(datagram, now: .milliseconds(Int64(step))) }
        }
        guard case .established? = initiator.events().first else {
            Issue.record("a forged RETRY ended the handshake with a \(load) responder")
            return
        }
        #expect(responder.statistics.badCookies == 1 && responder.statistics.established == 1)
    }

    @Test func cookiesOutliveOneRotationAndNotTwo() throws {
        let rotation = Duration.seconds(120)
        var responder = makeResponder(configuration: .init(cookieThreshold: 0, cookieRotation: rotation))
        var random = SplitMix64(seed: 32)
        let initiate = Self.initiate(session: 9, random: &random)
        responder.handle(initiate, from: .sender, now: .zero)
        let retry = try #require(responder.transmits().first?.datagram)
        var echoed = initiate
        echoed[44] = 1
        echoed.replaceSubrange(45..<61, with: retry[12..<28])
        var later = responder
        later.handleTimeout(now: rotation)
        later.handle(echoed, from: .sender, now: rotation)
        #expect(later.statistics.responsesSent == 1)
        responder.handleTimeout(now: rotation)
        responder.handleTimeout(now: rotation * 2)
        responder.handle(echoed, from: .sender, now: rotation * 2)
        #expect(responder.statistics.badCookies == 1 && responder.statistics.responsesSent == 0)
    }

    @Test func aFloodLeavesBoundedStateReplyBytesBelowRequestBytesAndAnHonestInitiatorGetsIn() throws {
        let configuration = Responder.Configuration(maximumHalfOpen: 64, cookieThreshold: 16)
        var responder = makeResponder(configuration: configuration)
        var random = SplitMix64(seed: 33)
        print("flood seed 33")
        var bytesIn = 0
        var bytesOut = 0
        for index in 0..<10_000 {
            let source = TestPeer(host: UInt32(truncatingIfNeeded: random.next()), port: UInt16(truncatingIfNeeded: index))
            let datagram = Self.initiate(session: random.next() | 1, random: &random)
            responder.handle(datagram, from: source, now: .milliseconds(Int64(index / 100)))
            bytesIn += datagram.count
            for (peer, reply) in responder.transmits() {
                #expect(peer == source && reply.count <= datagram.count)
                bytesOut += reply.count
            }
            #expect(responder.halfOpenCount <= configuration.cookieThreshold)
        }
        #expect(responder.statistics.responsesSent == 16 && responder.statistics.retriesSent == 10_000 - 16)
        #expect(bytesOut <= bytesIn)
        // An honest initiator during the flood echoes its cookie and completes.
        var honest = SplitMix64(seed: 34)
        var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &honest, now: .zero)
        for _ in 0..<4 {
            for datagram in initiator.transmits() { responder.handle(datagram, from: .sender, now: .milliseconds(100)) }
            for (_, datagram) in responder.transmits() { initiator.handle(datagram, now: .milliseconds(100)) }
        }
        guard case .established = initiator.events().first else {
            Issue.record("the honest initiator did not get through the flood")
            return
        }
    }

    @Test func halfOpenHandshakesAreCappedAndExpire() throws {
        let configuration = Responder.Configuration(
            maximumHalfOpen: 8, cookieThreshold: 100, halfOpenLifetime: .seconds(10))
        var responder = makeResponder(configuration: configuration)
        var random = SplitMix64(seed: 35)
        for index in 0..<20 {
            responder.handle(Self.initiate(session: UInt64(index + 1), random: &random), from: .sender, now: .seconds(1))
        }
        #expect(responder.halfOpenCount == 8 && responder.statistics.halfOpenFull == 12)
        #expect(responder.nextTimeout == .seconds(11))
        responder.handleTimeout(now: .seconds(11))
        #expect(responder.halfOpenCount == 0)
        responder.handle(Self.initiate(session: 99, random: &random), from: .sender, now: .seconds(12))
        #expect(responder.halfOpenCount == 1)
    }

    @Test func theResponderNeverAnswersWhatDoesNotDecode() {
        var responder = makeResponder()
        var random = SplitMix64(seed: 36)
        for size in [0, 12, 255, 256, 257, 1_000] {
            var datagram = (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if size >= 4 { datagram.replaceSubrange(0..<4, with: [0x50, 0x32, 0x02, 0x01]) }
            responder.handle(datagram, from: .sender, now: .zero)
        }
        // A sealed datagram or an initiator-bound message is not the responder's either.
        var sealed = [UInt8](repeating: 0, count: 64)
        sealed.replaceSubrange(0..<4, with: [0x50, 0x32, 0x02, SecureMessageType.sealed.rawValue])
        responder.handle(sealed, from: .sender, now: .zero)
        #expect(responder.transmits().isEmpty && responder.statistics.malformed == 7)
    }
}
