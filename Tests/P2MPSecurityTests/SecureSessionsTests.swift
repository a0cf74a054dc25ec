import P2MPSecurity
import P2MPWire
import Testing

typealias Sessions = SecureSessions<TestPeer, SplitMix64>

/// Shakes hands between a fresh initiator (its datagrams from `.sender`) and `sessions`,
/// with no loss; returns the initiator's side of the session.
func establish(_ sessions: inout Sessions, seed: UInt64, now: Duration = .zero) throws -> EstablishedSession {
    var random = SplitMix64(seed: seed)
    var initiator = Initiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: now)
    var buffer = [UInt8](repeating: 0, count: SecureDatagram.maximumSealedSize)
    for _ in 0..<2 {
        for datagram in initiator.transmits() {
            _ = datagram.withUnsafeBytes { bytes in
                buffer.withUnsafeMutableBytes { sessions.handle(bytes, from: .sender, now: now, plaintext: $0) }
            }
        }
        while let (_, size) = buffer.withUnsafeMutableBytes({ sessions.pollTransmit(into: $0) }) {
            initiator.handle(Array(buffer[..<size]), now: now)
        }
    }
    guard case .established(let session)? = initiator.events().first else { throw HandshakeFailed() }
    return session
}

struct HandshakeFailed: Error {}

extension SecureSessions {
    /// Opens `datagram` from `peer`; the plaintext, or nil when it was not one.
    mutating func open(_ datagram: [UInt8], from peer: Peer, now: Duration) -> [UInt8]? {
        var plaintext = [UInt8](repeating: 0, count: datagram.count)
        let received = datagram.withUnsafeBytes { bytes in
            plaintext.withUnsafeMutableBytes { handle(bytes, from: peer, now: now, plaintext: $0) }
        }
        guard case .plaintext(let size, _) = received else { return nil }
        return Array(plaintext[..<size])
    }
}

@Suite struct SecureSessionsTests {
    /// QUIC's rule (RFC 9000, section 9.3): only the newest datagram moves a session. A
    /// datagram whose original never arrived is still fresh in the replay window; an
    /// attacker who recorded it must not be able to point the session's replies at itself
    /// (or at a victim) by sending it later from elsewhere.
    @Test func aSessionFollowsItsPeerOnlyOnADatagramNewerThanAllBefore() throws {
        var sessions = Sessions(
            identity: Keys.responder, trustedSenders: Keys.trusting(Keys.initiatorKey), random: SplitMix64(seed: 40), now: .zero)
        var sender = try establish(&sessions, seed: 41)
        let id = sender.remoteSession
        let sealed = (0..<5).map { sender.sealer.seal([UInt8($0)]) }
        #expect(sessions.open(sealed[0], from: .sender, now: .zero) == [0])
        #expect(sessions.open(sealed[2], from: .sender, now: .zero) == [2])
        // Counter 1 never arrived; the attacker replays its recorded copy from its address.
        #expect(sessions.open(sealed[1], from: .other, now: .zero) == [1])
        #expect(sessions.session(id)?.peer == .sender)
        // A newer one from elsewhere is what a peer behind a new address sends: it moves the session.
        #expect(sessions.open(sealed[3], from: .other, now: .zero) == [3])
        #expect(sessions.session(id)?.peer == .other)
        // Its copy from the old address is a replay, and moves nothing; the next one moves it back.
        #expect(sessions.open(sealed[3], from: .sender, now: .zero) == nil)
        #expect(sessions.session(id)?.peer == .other)
        #expect(sessions.open(sealed[4], from: .sender, now: .zero) == [4])
        #expect(sessions.session(id)?.peer == .sender)
        #expect(sessions.statistics.replayed == 1)
    }

    /// A copy whose original was lost (or that an attacker kept back) opens only soon after
    /// the newest datagram; later it could re-run a transfer the daemon already forgot.
    @Test func anOlderDatagramOpensOnlyWithinTheReplayHorizonOfTheNewest() throws {
        var sessions = Sessions(
            identity: Keys.responder, trustedSenders: Keys.trusting(Keys.initiatorKey), random: SplitMix64(seed: 44), now: .zero)
        var sender = try establish(&sessions, seed: 45)
        let horizon = sessions.configuration.replayHorizon
        let sealed = (0..<6).map { sender.sealer.seal([UInt8($0)]) }
        for counter in [0, 2, 4] { #expect(sessions.open(sealed[counter], from: .sender, now: .seconds(1)) == [UInt8(counter)]) }
        #expect(sessions.open(sealed[1], from: .other, now: .seconds(1) + horizon - .milliseconds(1)) == [1])
        #expect(sessions.open(sealed[3], from: .other, now: .seconds(1) + horizon) == nil)
        #expect(sessions.statistics.replayed == 1)
        // The peer's next datagram is newer than all: it opens, and starts a new horizon.
        #expect(sessions.open(sealed[5], from: .sender, now: .seconds(30)) == [5])
    }

    @Test func aDatagramThatDoesNotAuthenticateNeverMovesASession() throws {
        var sessions = Sessions(
            identity: Keys.responder, trustedSenders: Keys.trusting(Keys.initiatorKey), random: SplitMix64(seed: 42), now: .zero)
        var sender = try establish(&sessions, seed: 43)
        var forged = sender.sealer.seal([9, 9, 9])
        forged[forged.count - 1] ^= 1
        #expect(sessions.open(forged, from: .other, now: .zero) == nil)
        #expect(sessions.session(sender.remoteSession)?.peer == .sender && sessions.statistics.forged == 1)
    }
}
