import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// Messages the attacker makes up: handshakes it cannot complete, sealed datagrams it
/// cannot seal, and recorded ones it damages.
extension Attacker {
    /// A well-formed INITIATE under a fresh key; sometimes with a cookie it made up.
    mutating func forgedInitiate(to receiver: Int) -> [Injection] {
        let session = random.next() | 1
        let key = randomBytes(SecureDatagram.keySize)
        let cookie = random.chance(0.3) ? randomBytes(SecureDatagram.cookieSize) : nil
        var bytes = [UInt8](repeating: 0, count: SecureDatagram.initiateSize)
        bytes.withUnsafeMutableBytes { destination in
            key.withUnsafeBytes { key in
                if let cookie {
                    cookie.withUnsafeBytes {
                        _ = SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: key, cookie: $0, to: destination)
                    }
                } else {
                    _ = SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: key, cookie: nil, to: destination)
                }
            }
        }
        let from = spoofedSource(Self.node, toward: receiver)
        return [Injection(kind: .forgedInitiate, from: from, to: receiver, delay: smallDelay(), bytes: bytes)]
    }

    /// CONFIRM with a made-up proof for the latest responder session seen in a RESPONSE.
    mutating func forgedConfirm(to receiver: Int) -> [Injection] {
        let session = responderSessions[receiver].last ?? random.next()
        let bytes = Self.header(.confirm, session) + randomBytes(SecureDatagram.confirmSize - SecureDatagram.headerSize)
        let from = spoofedSource(SecureSimulation.senderNode, toward: receiver)
        return [Injection(kind: .forgedConfirm, from: from, to: receiver, delay: smallDelay(), bytes: bytes)]
    }

    /// RESPONSE and DONE with made-up sealed parts, to the sender, for its initiator session.
    mutating func forgedResponse(as receiver: Int) -> [Injection] {
        guard let session = initiatorSession[receiver] else { return [] }
        var response = [UInt8](repeating: 0, count: SecureDatagram.responseClearSize)
        let responder = random.next()
        let key = randomBytes(SecureDatagram.keySize)
        response.withUnsafeMutableBytes { clear in
            key.withUnsafeBytes {
                SecureDatagram.writeResponseClear(initiatorSession: session, responderSession: responder, ephemeralKey: $0, to: clear)
            }
        }
        response += randomBytes(SecureDatagram.responseSize - SecureDatagram.responseClearSize)
        let doneBody = SecureDatagram.doneFixedSize + Int.random(in: 0...20, using: &random) + SecureDatagram.tagSize
        let done = Self.header(.done, session) + randomBytes(doneBody)
        return [
            Injection(kind: .forgedResponse, from: receiver, to: SecureSimulation.senderNode, delay: smallDelay(), bytes: response),
            Injection(kind: .forgedResponse, from: receiver, to: SecureSimulation.senderNode, delay: smallDelay(), bytes: done),
        ]
    }

    /// RETRY with a made-up cookie, to the sender, for its initiator session.
    mutating func forgedRetry(as receiver: Int) -> [Injection] {
        guard let session = initiatorSession[receiver] else { return [] }
        var retry = [UInt8](repeating: 0, count: SecureDatagram.retrySize)
        let cookie = randomBytes(SecureDatagram.cookieSize)
        retry.withUnsafeMutableBytes { retry in
            cookie.withUnsafeBytes { _ = SecureDatagram.writeRetry(initiatorSession: session, cookie: $0, to: retry) }
        }
        return [Injection(kind: .forgedRetry, from: receiver, to: SecureSimulation.senderNode, delay: smallDelay(), bytes: retry)]
    }

    /// A genuine RESPONSE to the sender's latest INITIATE, from a responder with the
    /// attacker's own key: it verifies, but proves a key other than the pinned one.
    mutating func impostorResponse(as receiver: Int, now: Instant) -> [Injection] {
        guard let initiate = initiate[receiver] else { return [] }
        var impostor = HandshakeResponder<SimulatedPeer, SeededRandom>(
            identity: SimulationIdentities.untrusted, trustedSenders: TrustedSenders(),
            random: SeededRandom(seed: random.next()), now: now.sinceOrigin)
        initiate.withUnsafeBytes { impostor.handle($0, from: SimulatedPeer(node: SecureSimulation.senderNode), now: now.sinceOrigin) }
        var buffer = [UInt8](repeating: 0, count: SecureDatagram.initiateSize)
        guard let (_, size) = buffer.withUnsafeMutableBytes({ impostor.pollTransmit(into: $0) }) else { return [] }
        return [
            Injection(
                kind: .impostorResponse, from: receiver, to: SecureSimulation.senderNode, delay: smallDelay(),
                bytes: Array(buffer[..<size]))
        ]
    }

    /// SEALED with a live session id, a counter near the live ones (or any) and random
    /// bytes: to the receiver, or to the sender as if from the receiver.
    mutating func randomSealed(at receiver: Int) -> [Injection] {
        let towardSender = random.chance(0.5)
        let session = (towardSender ? senderSession[receiver] : receiverSession[receiver]) ?? random.next()
        let near = UInt64(sealedSent[receiver])
        let counter = random.chance(0.7) ? near &+ UInt64.random(in: 0...6, using: &random) &- 3 : random.next()
        var bytes = [UInt8](repeating: 0, count: SecureDatagram.sealedHeaderSize)
        bytes.withUnsafeMutableBytes { SecureDatagram.writeSealedHeader(receiverSession: session, counter: counter, to: $0) }
        bytes += randomBytes(Int.random(in: SecureDatagram.tagSize...300, using: &random))
        if towardSender {
            return [Injection(kind: .randomSealed, from: receiver, to: SecureSimulation.senderNode, delay: smallDelay(), bytes: bytes)]
        }
        let from = spoofedSource(SecureSimulation.senderNode, toward: receiver)
        return [Injection(kind: .randomSealed, from: from, to: receiver, delay: smallDelay(), bytes: bytes)]
    }

    /// A recorded datagram between the sender and a receiver with one bit flipped, to
    /// where it was going, from where it came.
    mutating func bitFlip() -> [Injection] {
        let candidates = tapped.filter { $0.from >= SecureSimulation.senderNode && $0.to >= SecureSimulation.senderNode }
        guard var datagram = candidates.randomElement(using: &random), !datagram.bytes.isEmpty else { return [] }
        let bit = Int.random(in: 0..<datagram.bytes.count * 8, using: &random)
        datagram.bytes[bit / 8] ^= UInt8(1 << (bit % 8))
        return [Injection(kind: .bitFlip, from: datagram.from, to: datagram.to, delay: smallDelay(), bytes: datagram.bytes)]
    }

    /// The 12-byte header of a secure-envelope message.
    static func header(_ type: SecureMessageType, _ session: UInt64) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: SecureDatagram.headerSize)
        header.withUnsafeMutableBytes { SecureDatagram.writeHeader(SecureHeader(type: type, session: session), to: $0) }
        return header
    }
}
