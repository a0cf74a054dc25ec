import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// The attacker's own handshakes: under a key no receiver trusts (refused), and under the
/// insider's read-only key, whose session it then uses against the honest transfer.
extension Attacker {
    /// A handshake of the attacker's own with one receiver, and its session once up.
    struct OwnSession {
        var kind: AttackKind
        var receiver: Int
        var initiator: HandshakeInitiator<SeededRandom>
        var session: EstablishedSession?
    }

    /// Own handshakes at most per run: each costs real X25519 and Ed25519 work.
    static let maximumOwnSessions = 6

    /// Begins a handshake with `receiver` under the untrusted or the insider key.
    mutating func startOwnSession(_ kind: AttackKind, with receiver: Int, now: Instant) -> [Injection] {
        guard own.count < Self.maximumOwnSessions else { return [] }
        let insider = insiderHoldsSenderKey ? SimulationIdentities.sender : SimulationIdentities.insider
        let identity = kind == .insiderSession ? insider : SimulationIdentities.untrusted
        var initiator = HandshakeInitiator(
            identity: identity, hostKey: .pinned(SimulationIdentities.hostKeys[receiver]), random: &random, now: now.sinceOrigin)
        let initiate = Self.transmits(of: &initiator)
        own.append(OwnSession(kind: kind, receiver: receiver, initiator: initiator))
        return initiate.map { Injection(kind: kind, from: Self.node, to: receiver, delay: smallDelay(), bytes: $0) }
    }

    /// A datagram `receiver` sent the attacker's own address: it moves the attacker's
    /// handshakes on; once the insider's session is up, the insider uses it.
    mutating func receive(_ bytes: [UInt8], from receiver: Int, now: Instant) -> [Injection] {
        var injections: [Injection] = []
        for index in own.indices where own[index].receiver == receiver && !own[index].initiator.isFinished {
            bytes.withUnsafeBytes { own[index].initiator.handle($0, now: now.sinceOrigin) }
            let kind = own[index].kind
            injections += Self.transmits(of: &own[index].initiator).map {
                Injection(kind: kind, from: Self.node, to: receiver, delay: smallDelay(), bytes: $0)
            }
            while let event = own[index].initiator.pollEvent() {
                guard case .established(let session) = event else { continue }
                own[index].session = session
                if kind == .insiderSession { injections += insiderTraffic(own: index) }
            }
        }
        for injection in injections { injected[injection.kind, default: 0] += 1 }
        return injections
    }

    /// The insider's datagrams in its own session: an OFFER of its own, and OFFER, DATA,
    /// PROBE and ABORT for the honest transfer's id.
    private mutating func insiderTraffic(own index: Int) -> [Injection] {
        let receiver = own[index].receiver
        var plaintexts: [[UInt8]] = [insiderOffer(transferID: random.next())]
        if let honest = transferID[receiver] {
            plaintexts.append(insiderOffer(transferID: honest))
            plaintexts.append(insiderData(transferID: honest))
            plaintexts.append(Self.encode(.probe, transferID: honest))
            plaintexts.append(Self.encode(.abort(NativeRejection(reason: .unknownTransfer)), transferID: honest))
        }
        return plaintexts.compactMap { plaintext in
            guard let sealed = seal(plaintext, own: index) else { return nil }
            let key = SealKey(receiver: receiver, session: own[index].session!.remoteSession, counter: Self.counter(of: sealed))
            insiderSealed[key] = plaintext
            return Injection(kind: .insiderSession, from: Self.node, to: receiver, delay: smallDelay(), bytes: sealed)
        }
    }

    /// A DATA datagram for the honest transfer sealed under the insider's session, with the
    /// honest session's id put in its header.
    mutating func splicedSession(at receiver: Int) -> [Injection] {
        guard let honestSession = receiverSession[receiver], let honest = transferID[receiver],
            let index = own.firstIndex(where: { $0.receiver == receiver && $0.session != nil }),
            var sealed = seal(insiderData(transferID: honest), own: index)
        else { return [] }
        Self.setSession(honestSession, in: &sealed)
        let from = spoofedSource(SecureSimulation.senderNode, toward: receiver)
        return [Injection(kind: .splicedSession, from: from, to: receiver, delay: smallDelay(), bytes: sealed)]
    }

    private mutating func seal(_ plaintext: [UInt8], own index: Int) -> [UInt8]? {
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SecureDatagram.sealedOverhead)
        let size = sealed.withUnsafeMutableBytes { destination in
            plaintext.withUnsafeBytes { own[index].session?.sealer.seal($0, into: destination) }
        }
        return size.map { Array(sealed[..<$0]) }
    }

    private mutating func insiderOffer(transferID: UInt64) -> [UInt8] {
        let offer = NativeOffer(
            segmentSize: 100, fileSize: UInt64.random(in: 0...10_000, using: &random),
            sha256: ContentDigest(randomBytes(32))!, window: 64, flags: .replaceExisting, name: "file.bin")
        return Self.encode(.offer(offer), transferID: transferID)
    }

    private mutating func insiderData(transferID: UInt64) -> [UInt8] {
        let payload = randomBytes(Int.random(in: 1...100, using: &random))
        var datagram: [UInt8] = []
        payload.withUnsafeBytes {
            NativeDatagram.encodeData(transferID: transferID, segment: 0, timestamp: 0, payload: $0, into: &datagram)
        }
        return datagram
    }

    static func encode(_ packet: NativePacket, transferID: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: transferID, packet: packet).encode(into: &bytes)
        return bytes
    }

    /// The counter in a SEALED datagram's clear header.
    static func counter(of sealed: [UInt8]) -> UInt64 {
        sealed.withUnsafeBytes { (try? SecureDatagram.decodeSealed($0))?.counter ?? .max }
    }

    private static func transmits(of initiator: inout HandshakeInitiator<SeededRandom>) -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: SecureDatagram.initiateSize)
        while let size = buffer.withUnsafeMutableBytes({ initiator.pollTransmit(into: $0) }) {
            datagrams.append(Array(buffer[..<size]))
        }
        return datagrams
    }
}
