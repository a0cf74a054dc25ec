import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// The sender's side, wired as `NativePushApplication` wires it: a receiver is offered the
/// file once its link is up (and again once it was renewed), every datagram of the machine
/// is sealed for its receiver, and every datagram from a receiver is opened before the
/// machine sees it.
extension SecureSimulationRun {
    /// A datagram from receiver `index`: a handshake message, or one sealed by the receiver.
    mutating func receiveAtSender(_ datagram: [UInt8], from index: Int) {
        let now = self.now
        let received = datagram.withUnsafeBytes { bytes in
            opened.withUnsafeMutableBytes { links.handle(bytes, from: index, now: now.sinceOrigin, plaintext: $0) }
        }
        guard case .plaintext(let size) = received else { return }
        let plaintext = opened[..<size]
        if let key = SealKey(receiver: index, sealed: datagram), provenance.fromReceivers[key] != Array(plaintext) {
            violations.append(
                "step \(events) at \(now): the sender accepted \(size) bytes from receiver \(index) (session \(key.session), "
                    + "counter \(key.counter)) that the receiver never sealed")
        }
        plaintext.withUnsafeBytes { sender.handle($0, from: index, now: now) }
    }

    /// Carries out what the links and the sender ask for until neither has more: offers to
    /// receivers whose session came up, handshake messages, file bytes, sealed datagrams.
    mutating func drainSender() {
        let now = self.now
        while let event = links.pollEvent() {
            trace?("\(now) link \(event)")
            switch event {
            case .ready(let receiver, _): sender.start(receiver: receiver, now: now)
            case .renewed(let receiver):
                renewals += 1
                sender.sessionReplaced(receiver: receiver, now: now)
            case .failed(let receiver, let failure): sender.abandon(receiver: receiver, reason: "\(failure)", now: now)
            }
        }
        while let (receiver, size) = sealed.withUnsafeMutableBytes({ links.pollTransmit(into: $0) }) {
            transmit(Array(sealed[..<size]), from: SecureSimulation.senderNode, to: receiver)
        }
        repeat {
            while let event = sender.pollEvent() {
                trace?("\(now) sender \(event)")
                switch event {
                case .payloadNeeded(let block):
                    sender.supplyPayload(block, from: scenario.network.file, now: now)
                case .finished(let receiver, _):
                    planStrike(.completed, at: receiver)
                case .accepted, .timedOut, .lossDetected:
                    break
                }
            }
            while sender.peekTransmit() != nil {
                guard let outgoing = scratch.withUnsafeMutableBytes({ sender.pollTransmit(into: $0, now: now) }) else { break }
                sealAndSend(outgoing)
            }
        } while sender.hasEvents
    }

    /// Seals what the sender wrote into `scratch` for its receiver and sends it; like
    /// `ClientLinks`, drops it when that receiver has no session.
    private mutating func sealAndSend(_ outgoing: NativeSender.Transmit) {
        let size = scratch.withUnsafeBytes { plaintext in
            sealed.withUnsafeMutableBytes {
                links.seal(
                    UnsafeRawBufferPointer(rebasing: plaintext[..<outgoing.size]), for: outgoing.receiver, into: $0,
                    now: now.sinceOrigin)
            }
        }
        guard let size else { return }
        let plaintext = scratch[..<outgoing.size]
        provenance.sealedBySender(sealed[..<size], plaintext: plaintext, for: outgoing.receiver)
        attacker.transferID[outgoing.receiver] = plaintext.withUnsafeBytes { NativeDatagram.peekTransferID($0) }
        trace?("\(now) sender sends \(outgoing)")
        transmit(Array(sealed[..<size]), from: SecureSimulation.senderNode, to: outgoing.receiver)
    }
}
