import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// The receivers' side, wired as `ReceiverDaemon` and `PeerChannels` wire it: datagrams in
/// clear are dropped (a daemon that trusts keys serves nothing unauthenticated), handshake
/// messages go to the responder, sealed ones are opened and handed to the endpoint under
/// their session, and the endpoint's replies are sealed for the session they answer.
extension SecureSimulationRun {
    /// Reads what arrived at receiver `index` while it was busy, then answers it.
    mutating func readBatch(_ index: Int) {
        receivers[index].readAt = nil
        let batch = receivers[index].inbox
        receivers[index].inbox.removeAll(keepingCapacity: true)
        for (from, datagram) in batch { receive(datagram, at: index, from: from) }
        drainTransmits(index)
    }

    private mutating func receive(_ datagram: [UInt8], at index: Int, from node: Int) {
        guard datagram.withUnsafeBytes({ SecureReceiver.Sessions.isSecure($0) }) else {
            receivers[index].droppedInClear += 1
            return
        }
        let now = self.now
        let received = datagram.withUnsafeBytes { bytes in
            opened.withUnsafeMutableBytes {
                receivers[index].sessions.handle(bytes, from: SimulatedPeer(node: node), now: now.sinceOrigin, plaintext: $0)
            }
        }
        switch received {
        case .plaintext(let size, let session):
            let plaintext = Array(opened[..<size])
            let fromInsider = checkProvenance(plaintext, of: datagram, at: index, session: session, from: node)
            plaintext.withUnsafeBytes { receivers[index].endpoint.handle($0, from: session, now: now) }
            drainEvents(index, plaintext: plaintext, fromInsider: fromInsider)
        case .handshake:
            takeSessionEvents(index)
        case .dropped:
            break
        }
    }

    /// The provenance check: a plaintext accepted in a session of the sender's key is one
    /// the sender sealed for that session and counter; in the insider's session, one the
    /// insider sealed (returns true then). And the session replies where its newest
    /// authentic datagram came from.
    private mutating func checkProvenance(
        _ plaintext: [UInt8], of datagram: [UInt8], at index: Int, session id: UInt64, from node: Int
    ) -> Bool {
        let step = "step \(events) at \(now): receiver \(index)"
        guard let key = SealKey(receiver: index, sealed: datagram), let session = receivers[index].sessions.session(id) else {
            violations.append("\(step) accepted a plaintext for session \(id), which it does not hold")
            return false
        }
        var fromInsider = false
        switch session.established.peerKey {
        case SimulationIdentities.senderKey:
            if provenance.fromSender[key] != plaintext {
                violations.append(
                    "\(step) accepted \(plaintext.count) bytes in the sender's session \(id) (counter \(key.counter)) "
                        + "that the sender never sealed there, from node \(node)")
            }
        case SimulationIdentities.insiderKey:
            fromInsider = true
            insiderPlaintexts += 1
            if attacker.insiderSealed[key] != plaintext {
                violations.append("\(step) accepted bytes in the insider's session \(id) that the insider never sealed")
            }
        case let other:
            violations.append("\(step) accepted a plaintext in a session of \(other), which it does not trust")
        }
        if receivers[index].newest[id].map({ key.counter > $0.counter }) ?? true {
            receivers[index].newest[id] = (key.counter, node)
        }
        if let newest = receivers[index].newest[id], session.peer.node != newest.node {
            violations.append(
                "\(step) replies to session \(id) at node \(session.peer.node), but its newest datagram "
                    + "(counter \(newest.counter)) came from node \(newest.node)")
        }
        return fromInsider
    }

    /// Carries out what endpoint `index` asks after a datagram, as the daemon would with its
    /// spool: admission (a session without the push right is refused; a new offer of the
    /// same content from the same sender supersedes its unfinished ones, as
    /// `IncomingTransfers` drops a stale session when it takes over its partial), writes,
    /// commits.
    mutating func drainEvents(_ index: Int, plaintext: [UInt8], fromInsider: Bool) {
        let file = scenario.network.file
        while let event = receivers[index].endpoint.pollEvent() {
            trace?("\(now) receiver \(index) \(event)")
            switch event {
            case .offered(let id, let session, let offer):
                guard let rights = receivers[index].sessions.session(session)?.established.rights, rights.contains(.push) else {
                    receivers[index].endpoint.refuse(id, NativeRejection(reason: .notAllowedFromAddress, text: "no push right"))
                    continue
                }
                for stale in receivers[index].unfinished { receivers[index].endpoint.drop(stale) }
                receivers[index].unfinished = [id]
                let disk = receivers[index].disk
                let resume = disk.recordedBytes / UInt64(max(1, offer.segmentSize))
                receivers[index].endpoint.admit(id, resumeFrom: resume, alreadyComplete: disk.committed == file, now: now)
            case .received(_, let offset, let payload, let contiguous):
                if fromInsider { violations.append("step \(events) at \(now): the insider's DATA reached receiver \(index)'s disk") }
                let start = Int(offset)
                receivers[index].disk.partial.replaceSubrange(start..<start + payload.count, with: plaintext[payload])
                receivers[index].disk.recordedBytes = contiguous
            case .allReceived(let id):
                receivers[index].unfinished.remove(id)
                commit(index, transferID: id, fromInsider: fromInsider)
            case .ended(let id, _, _):
                receivers[index].unfinished.remove(id)
            case .duplicate, .query:
                break
            }
        }
    }

    /// Verifies and commits, as the daemon does after comparing SHA-256 digests (byte
    /// equality is the same verdict). A receiver commits once: a second commit is a
    /// replay's doing. (A receiver the sender gave up on may still complete later from
    /// datagrams the sender sealed for it, delayed; the bytes are the sender's.)
    private mutating func commit(_ index: Int, transferID: UInt64, fromInsider: Bool) {
        let file = scenario.network.file
        let intact = receivers[index].disk.partial == file
        if fromInsider || receivers[index].disk.lastCommitted != nil {
            violations.append(
                "step \(events) at \(now): receiver \(index) completed a transfer "
                    + (fromInsider ? "from the insider's session" : "a second time, after it had committed the file"))
        }
        if intact {
            receivers[index].disk.committed = file
            receivers[index].disk.lastCommitted = file
        } else {
            receivers[index].disk.partial = Array(repeating: 0, count: file.count)
        }
        receivers[index].disk.recordedBytes = 0
        let digest = ContentDigest(words: (0, 0, 0, 0))
        receivers[index].endpoint.finalized(
            transferID, NativeCompletion(status: intact ? .committed : .digestMismatch, sha256: digest), now: now)
    }

    /// Sends the endpoint's replies, each sealed for its session to wherever that session
    /// is now, then the responder's handshake replies.
    mutating func drainTransmits(_ index: Int) {
        while let outgoing = scratch.withUnsafeMutableBytes({ receivers[index].endpoint.pollTransmit(into: $0) }) {
            let reply = scratch.withUnsafeBytes { plaintext in
                sealed.withUnsafeMutableBytes {
                    receivers[index].sessions.seal(UnsafeRawBufferPointer(rebasing: plaintext[..<outgoing.size]), for: outgoing.peer, into: $0)
                }
            }
            guard let (peer, size) = reply else { continue }
            provenance.sealedByReceiver(index, sealed[..<size], plaintext: scratch[..<outgoing.size])
            transmit(Array(sealed[..<size]), from: index, to: peer.node)
        }
        while let (peer, size) = sealed.withUnsafeMutableBytes({ receivers[index].sessions.pollTransmit(into: $0) }) {
            transmit(Array(sealed[..<size]), from: index, to: peer.node)
        }
    }

    mutating func takeSessionEvents(_ index: Int) {
        while let event = receivers[index].sessions.pollEvent() {
            trace?("\(now) receiver \(index) \(event)")
        }
    }
}
