import DequeModule
import HeapModule
import P2MPWire

/// The receiving side of the native protocol for every transfer that reaches one socket:
/// routing by transfer id, the session table, handshake, selective-repeat data,
/// completion, and timers.
///
/// The machine contract (docs/ARCHITECTURE.md): hand in datagrams with `handle` and expired
/// timers with `handleTimeout`, drain `pollEvent` (before the next `handle`: a received
/// payload is a range of the datagram just handled), then drain `pollTransmit`, and arm a
/// timer for `nextTimeout`. Storage is the application's: it answers `.offered` with `admit`
/// or `refuse`, writes what `.received` names, and answers `.allReceived` with `finalized`
/// (or `failStorage` whenever writing fails). ACKs are sent once per drain, not per
/// datagram, so a burst of DATA costs one ACK.
///
/// Bounded: at most `maximumSessions` unfinished sessions (more get REJECT busy),
/// finished ones linger `linger` to repeat their COMPLETE, idle ones expire, and replies
/// to datagrams of unknown transfers are rate-limited.
public struct NativeReceiverEndpoint<Peer: Hashable & Sendable>: Sendable {
    public struct Configuration: Sendable {
        public var maximumSessions: Int
        /// Advertised window, in segments.
        public var window: Int
        /// Advertised window, in bytes of payload, at most: what the socket can hold while
        /// the receiver falls behind. A larger window lets the sender overrun it, and the
        /// datagrams the kernel then drops look like network loss.
        public var windowBytes: Int
        public var idleTimeout: Duration
        /// How long a finished session keeps answering with its COMPLETE.
        public var linger: Duration
        /// ABORT(unknownTransfer) replies per second, at most.
        public var unknownTransferRepliesPerSecond: Int

        public init(
            maximumSessions: Int = 64, window: Int = 4_096, windowBytes: Int = .max, idleTimeout: Duration = .seconds(30),
            linger: Duration = .seconds(10), unknownTransferRepliesPerSecond: Int = 100
        ) {
            self.maximumSessions = max(1, maximumSessions)
            self.window = max(1, window)
            self.windowBytes = max(1, windowBytes)
            self.idleTimeout = idleTimeout
            self.linger = linger
            self.unknownTransferRepliesPerSecond = unknownTransferRepliesPerSecond
        }
    }

    /// What the application must act on or may report.
    public enum Event: Sendable, Equatable {
        /// A new offer: check it against policy and storage, then call `admit` or `refuse`.
        case offered(transferID: UInt64, peer: Peer, offer: NativeOffer)
        /// Write `payload` (a range of the datagram just handled) at `offset`; with it the
        /// file is complete from its start up to `contiguous` bytes.
        case received(transferID: UInt64, offset: UInt64, payload: Range<Int>, contiguous: UInt64)
        /// Every segment is held: verify the digest, commit, then call `finalized`.
        case allReceived(transferID: UInt64)
        /// A segment that was already held arrived again (the sender retransmitted it).
        case duplicate(transferID: UInt64, segment: UInt64)
        /// The session is gone without a commit; any partial stays for a resume. `reception`
        /// is what it saw of the DATA.
        case ended(transferID: UInt64, reason: EndReason, reception: NativeReception)
        /// A fleet query (ls, mv, rm, get): answer `peer` under the same `requestID`.
        case query(requestID: UInt64, peer: Peer, FleetQuery)
    }

    /// What `p2mpsend ls`, `mv`, `rm` and `get` ask of a receiver.
    public enum FleetQuery: Equatable, Sendable {
        case list(cursor: UInt32)
        case move(from: String, to: String)
        case remove(name: String)
        /// Send this file to the asker (`p2mpsend get`).
        case get(name: String)
    }

    public enum EndReason: Equatable, Sendable {
        case idle
        case abortedBySender(NativeRejection)
        case shutdown
    }

    /// A datagram `pollTransmit` wrote.
    public struct Transmit: Equatable, Sendable {
        public var peer: Peer
        public var size: Int
    }

    /// Counters for status lines and tests. (Each session's loss is its window's
    /// `reception`.)
    public struct Statistics: Sendable, Equatable {
        public var malformed = 0
        public var foreign = 0
        public var unknownTransfer = 0
        public var duplicates = 0
    }

    /// The largest datagram `pollTransmit` writes: an ACK with every SACK range, a
    /// COMPLETE with the longest text and a reception report, or another reply with the
    /// longest text.
    public static var maximumTransmitSize: Int {
        max(
            NativeDatagram.ackDatagramSize(sackRanges: NativeDatagram.maximumSACKRanges),
            NativeDatagram.maximumCompletionSize,
            NativeDatagram.headerSize + 64 + NativeDatagram.maximumTextLength + NativeDatagram.checksumSize)
    }

    private enum Phase: Sendable {
        case admitting(NativeOffer)
        case receiving
        case finalizing
        case finished(NativeCompletion)
    }

    private struct Session: Sendable {
        var peer: Peer
        var phase: Phase
        /// Present while receiving and finalizing; kept apart from `phase` so that DATA
        /// updates the window's bitmap in place.
        var window: NativeReceiveWindow?
        /// The OFFER asked for a reception report in COMPLETE.
        var reportsReception: Bool
        var lastHeard: Instant
        var acknowledgementPending = false
        /// The latest timer check scheduled for this session; nil would mean no check will
        /// ever visit it (the liveness invariant says that never happens).
        var latestCheck: Instant?

        /// What the session saw of its DATA (nothing before it was admitted).
        var reception: NativeReception { window?.reception ?? NativeReception() }
    }

    public private(set) var configuration: Configuration
    public private(set) var statistics = Statistics()
    private var sessions: [UInt64: Session] = [:]
    private var checks = Heap<SessionCheck>()
    private var loss: SimulatedLoss
    private var unknownReplyBudget: Int
    private var unknownReplySecond: UInt64 = 0
    private var events = Deque<Event>()
    /// Control replies to send (ACCEPT, REJECT, COMPLETE, ABORT), before any ACK.
    private var replies = Deque<(peer: Peer, transferID: UInt64, packet: NativePacket)>()
    private var pendingAcknowledgements = Deque<UInt64>()

    public init(configuration: Configuration, loss: SimulatedLoss = .none) {
        self.configuration = configuration
        self.loss = loss
        self.unknownReplyBudget = configuration.unknownTransferRepliesPerSecond
    }

    /// Applies new limits (a reloaded configuration); running sessions keep their window.
    public mutating func reconfigure(_ configuration: Configuration, lossProbability: Double) {
        self.configuration = configuration
        loss = loss.withProbability(lossProbability)
    }

    /// Forgets `transferID` without telling its sender (it was superseded by a new offer of
    /// the same content from the same sender, which restarted).
    public mutating func drop(_ transferID: UInt64) {
        sessions[transferID] = nil
    }

    /// Sessions not yet finished.
    public var activeSessions: Int {
        sessions.values.count { if case .finished = $0.phase { false } else { true } }
    }

    /// Bytes held contiguously from the start of `transferID`'s file, for hashing as data arrives.
    public func contiguousBytes(of transferID: UInt64) -> UInt64? {
        sessions[transferID]?.window?.contiguousBytes
    }

    /// What `transferID` saw of its DATA so far, while it is receiving or finalizing.
    public func reception(of transferID: UInt64) -> NativeReception? {
        sessions[transferID]?.window?.reception
    }

    /// When `handleTimeout` next has work.
    public var nextTimeout: Instant? { checks.min?.at }

    /// A session that no timer check will ever visit, so that nothing could end it if its
    /// sender fell silent; nil unless the endpoint is broken. (For the simulation's
    /// after-every-step invariant.)
    public var sessionWithoutDeadline: UInt64? {
        sessions.first { $0.value.latestCheck == nil }?.key
    }

    // MARK: - Inputs

    /// Handles one datagram.
    public mutating func handle(_ bytes: UnsafeRawBufferPointer, from peer: Peer, now: Instant) {
        guard let datagram = try? NativeDatagram.decode(bytes) else {
            statistics.malformed += 1
            return
        }
        let id = datagram.transferID
        if let session = sessions[id], session.peer != peer {
            statistics.foreign += 1
            return
        }
        switch datagram.packet {
        case .offer(let offer): handleOffer(offer, id: id, peer: peer, now: now)
        case .data(let data): handleData(data, id: id, peer: peer, now: now)
        case .probe: handleProbe(id: id, peer: peer, now: now)
        case .abort(let rejection):
            guard let session = sessions.removeValue(forKey: id) else { return }
            if case .finished = session.phase { return }
            events.append(.ended(transferID: id, reason: .abortedBySender(rejection), reception: session.reception))
        case .list(let cursor):
            events.append(.query(requestID: id, peer: peer, .list(cursor: cursor)))
        case .move(let from, let to):
            events.append(.query(requestID: id, peer: peer, .move(from: from, to: to)))
        case .remove(let name):
            events.append(.query(requestID: id, peer: peer, .remove(name: name)))
        case .get(let name):
            events.append(.query(requestID: id, peer: peer, .get(name: name)))
        case .accept, .reject, .ack, .complete, .listing, .result:
            statistics.malformed += 1  // Sender-bound packets have no business here.
        }
    }

    /// Drops a datagram the application cannot take now because the storage of its transfer
    /// is behind: DATA of a receiving session is counted lost to `.storage`, the rest is
    /// ignored. The sender's congestion control sees the loss and slows down.
    public mutating func discardData(_ bytes: UnsafeRawBufferPointer, from peer: Peer) {
        guard let datagram = try? NativeDatagram.decode(bytes), case .data(let data) = datagram.packet,
            let index = sessions.index(forKey: datagram.transferID), sessions.values[index].peer == peer,
            case .receiving = sessions.values[index].phase
        else { return }
        sessions.values[index].window?.discard(segment: data.segment, .storageBehind)
    }

    /// Expires idle sessions and ends lingering ones.
    public mutating func handleTimeout(now: Instant) {
        while let check = checks.min, check.at <= now {
            _ = checks.popMin()
            guard let index = sessions.index(forKey: check.transferID) else { continue }
            if sessions.values[index].latestCheck == check.at { sessions.values[index].latestCheck = nil }
            let lastHeard = sessions.values[index].lastHeard
            switch sessions.values[index].phase {
            case .finished:
                if lastHeard + configuration.linger <= now {
                    sessions.remove(at: index)
                } else {
                    schedule(check.transferID, at: lastHeard + configuration.linger)
                }
            case .finalizing:
                schedule(check.transferID, at: now + configuration.idleTimeout)  // the application is committing
            case .admitting, .receiving:
                if lastHeard + configuration.idleTimeout <= now {
                    let session = sessions.remove(at: index).value
                    events.append(.ended(transferID: check.transferID, reason: .idle, reception: session.reception))
                } else {
                    schedule(check.transferID, at: lastHeard + configuration.idleTimeout)
                }
            }
        }
    }

    /// The application accepted the offer of `transferID`; it already holds segments
    /// `0..<resumeFrom` (verified), or the whole content when `alreadyComplete`.
    public mutating func admit(_ transferID: UInt64, resumeFrom: UInt64, alreadyComplete: Bool, now: Instant) {
        guard let index = sessions.index(forKey: transferID), case .admitting(let offer) = sessions.values[index].phase
        else { return }
        let peer = sessions.values[index].peer
        let window = NativeReceiveWindow(
            segmentSize: Int(offer.segmentSize), fileSize: offer.fileSize,
            window: min(
                configuration.window, Int(max(1, offer.window)),
                max(1, configuration.windowBytes / Int(max(1, offer.segmentSize)))),
            resumeFrom: alreadyComplete ? .max : resumeFrom)
        reply(.accept(NativeAccept(resumeFrom: window.cumulative, window: UInt32(window.window), alreadyComplete: alreadyComplete)),
            id: transferID, to: peer)
        sessions.values[index].lastHeard = now
        if alreadyComplete {
            let nothingReceived = sessions.values[index].reportsReception ? NativeReception() : nil
            let completion = NativeCompletion(status: .committed, sha256: offer.sha256, reception: nothingReceived)
            sessions.values[index].phase = .finished(
                NativeCompletion(status: .committed, sha256: offer.sha256, text: "already held", reception: nothingReceived))
            reply(.complete(completion), id: transferID, to: peer)
            schedule(transferID, at: now + configuration.linger)
            return
        }
        let complete = window.isComplete
        sessions.values[index].window = window
        sessions.values[index].phase = complete ? .finalizing : .receiving
        if complete { events.append(.allReceived(transferID: transferID)) }
        schedule(transferID, at: now + configuration.idleTimeout)
    }

    /// The application refused the offer of `transferID`.
    public mutating func refuse(_ transferID: UInt64, _ rejection: NativeRejection) {
        guard let session = sessions[transferID], case .admitting = session.phase else { return }
        sessions[transferID] = nil
        reply(.reject(rejection), id: transferID, to: session.peer)
    }

    /// Writing or committing failed: tell the sender and end the session.
    public mutating func failStorage(_ transferID: UInt64, reason: String, now: Instant) {
        finish(transferID, NativeCompletion(status: .writeFailed, sha256: .zero, text: reason), now: now)
    }

    /// The application verified and committed (or not) the file of `transferID`.
    public mutating func finalized(_ transferID: UInt64, _ completion: NativeCompletion, now: Instant) {
        finish(transferID, completion, now: now)
    }

    /// Ends every unfinished session with ABORT(shuttingDown), for a clean stop.
    public mutating func shutDown() {
        for (id, session) in sessions {
            if case .finished = session.phase { continue }
            reply(.abort(NativeRejection(reason: .shuttingDown, text: "receiver is stopping")), id: id, to: session.peer)
            events.append(.ended(transferID: id, reason: .shutdown, reception: session.reception))
        }
        sessions.removeAll()
        checks = Heap()
    }

    // MARK: - Polling

    /// The next event for the application, if any.
    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// The peer of the next datagram, and `maximumTransmitSize`; nil when there is none.
    public mutating func peekTransmit() -> Transmit? {
        if let next = replies.first { return Transmit(peer: next.peer, size: Self.maximumTransmitSize) }
        while let id = pendingAcknowledgements.first {
            if let session = sessions[id], session.acknowledgementPending, session.window != nil {
                return Transmit(peer: session.peer, size: Self.maximumTransmitSize)
            }
            pendingAcknowledgements.removeFirst()
        }
        return nil
    }

    /// Writes the next datagram (a reply, or the ACK of a session that received data since
    /// the last poll) at the start of `buffer`, at least `maximumTransmitSize` bytes (checked).
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        precondition(buffer.count >= Self.maximumTransmitSize, "transmit buffer smaller than maximumTransmitSize")
        if let next = replies.popFirst() {
            var bytes: [UInt8] = []
            NativeDatagram(transferID: next.transferID, packet: next.packet).encode(into: &bytes)
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return Transmit(peer: next.peer, size: bytes.count)
        }
        while let id = pendingAcknowledgements.popFirst() {
            guard let index = sessions.index(forKey: id), sessions.values[index].acknowledgementPending,
                let window = sessions.values[index].window
            else { continue }
            sessions.values[index].acknowledgementPending = false
            let size = NativeDatagram.writeAck(transferID: id, window.acknowledgement(), to: buffer)
            return Transmit(peer: sessions.values[index].peer, size: size)
        }
        return nil
    }

    // MARK: - Packets

    private mutating func handleOffer(_ offer: NativeOffer, id: UInt64, peer: Peer, now: Instant) {
        if let index = sessions.index(forKey: id) {
            sessions.values[index].lastHeard = now
            switch sessions.values[index].phase {
            case .admitting: return  // The application is still deciding.
            case .receiving, .finalizing:
                // Our ACCEPT was lost: repeat it.
                if let window = sessions.values[index].window {
                    reply(.accept(NativeAccept(resumeFrom: window.cumulative, window: UInt32(window.window))), id: id, to: peer)
                }
            case .finished(let completion):
                reply(.complete(completion), id: id, to: peer)
            }
            return
        }
        let segmentSize = UInt64(offer.segmentSize)
        guard segmentSize >= 1, segmentSize <= UInt64(NativeDatagram.maximumPayload),
            offer.fileSize / segmentSize < 1 << 40
        else {
            reply(.reject(NativeRejection(reason: .malformedOffer, text: "segment size \(offer.segmentSize) out of range")), id: id, to: peer)
            return
        }
        guard activeSessions < configuration.maximumSessions else {
            reply(.reject(NativeRejection(reason: .busy, text: "\(configuration.maximumSessions) transfers already running")), id: id, to: peer)
            return
        }
        sessions[id] = Session(
            peer: peer, phase: .admitting(offer), reportsReception: offer.flags.contains(.receptionReport), lastHeard: now)
        schedule(id, at: now + configuration.idleTimeout)
        events.append(.offered(transferID: id, peer: peer, offer: offer))
    }

    private mutating func handleData(_ data: NativeDataSegment, id: UInt64, peer: Peer, now: Instant) {
        // The session is updated in place through its index (no structural change to the
        // table happens here), so the window's bitmap is never copied.
        guard let index = sessions.index(forKey: id) else {
            replyUnknown(id: id, peer: peer, now: now)
            return
        }
        sessions.values[index].lastHeard = now
        switch sessions.values[index].phase {
        case .finished(let completion):
            repeatCompletion(completion, id: id, to: peer)
            return
        case .finalizing:
            markAcknowledgementPending(at: index, id: id)
            return
        case .admitting:
            return
        case .receiving:
            break
        }
        if loss.shouldDiscard() {
            sessions.values[index].window?.discard(segment: data.segment, .simulatedLoss)
            return
        }
        let verdict = sessions.values[index].window?.receive(
            segment: data.segment, length: data.payload.count, timestamp: data.timestamp)
        switch verdict {
        case .store(let offset)?:
            let contiguous = sessions.values[index].window?.contiguousBytes ?? 0
            events.append(.received(transferID: id, offset: offset, payload: data.payload, contiguous: contiguous))
        case .duplicate?:
            statistics.duplicates += 1
            events.append(.duplicate(transferID: id, segment: data.segment))
        case .outsideWindow?, .wrongLength?, nil:
            statistics.malformed += 1
        }
        markAcknowledgementPending(at: index, id: id)
        if sessions.values[index].window?.isComplete == true {
            sessions.values[index].phase = .finalizing
            events.append(.allReceived(transferID: id))
        }
    }

    private mutating func handleProbe(id: UInt64, peer: Peer, now: Instant) {
        guard let index = sessions.index(forKey: id) else {
            replyUnknown(id: id, peer: peer, now: now)
            return
        }
        sessions.values[index].lastHeard = now
        switch sessions.values[index].phase {
        case .admitting:
            break
        case .receiving, .finalizing:
            markAcknowledgementPending(at: index, id: id)
        case .finished(let completion):
            repeatCompletion(completion, id: id, to: peer)
        }
    }

    // MARK: - Helpers

    private mutating func finish(_ id: UInt64, _ completion: NativeCompletion, now: Instant) {
        guard let index = sessions.index(forKey: id) else { return }
        if case .finished = sessions.values[index].phase { return }
        var completion = completion
        if sessions.values[index].reportsReception { completion.reception = sessions.values[index].reception }
        sessions.values[index].phase = .finished(completion)
        sessions.values[index].window = nil
        sessions.values[index].lastHeard = now
        sessions.values[index].acknowledgementPending = false
        reply(.complete(completion), id: id, to: sessions.values[index].peer)
        schedule(id, at: now + configuration.linger)
    }

    private mutating func markAcknowledgementPending(at index: [UInt64: Session].Index, id: UInt64) {
        guard !sessions.values[index].acknowledgementPending else { return }
        sessions.values[index].acknowledgementPending = true
        pendingAcknowledgements.append(id)
    }

    private mutating func replyUnknown(id: UInt64, peer: Peer, now: Instant) {
        statistics.unknownTransfer += 1
        let second = now.nanoseconds / 1_000_000_000
        if second != unknownReplySecond {
            unknownReplySecond = second
            unknownReplyBudget = configuration.unknownTransferRepliesPerSecond
        }
        guard unknownReplyBudget > 0 else { return }
        unknownReplyBudget -= 1
        reply(.abort(NativeRejection(reason: .unknownTransfer, text: "no such transfer")), id: id, to: peer)
    }

    /// Schedules a check of session `id`, which must be in the table.
    private mutating func schedule(_ id: UInt64, at instant: Instant) {
        checks.insert(SessionCheck(at: instant, transferID: id))
        if let index = sessions.index(forKey: id) {
            sessions.values[index].latestCheck = max(sessions.values[index].latestCheck ?? instant, instant)
        }
    }

    private mutating func reply(_ packet: NativePacket, id: UInt64, to peer: Peer) {
        replies.append((peer, id, packet))
    }

    /// A finished session answers DATA and PROBE with its COMPLETE, once per drain however
    /// many datagrams of the sender's last window arrive together.
    private mutating func repeatCompletion(_ completion: NativeCompletion, id: UInt64, to peer: Peer) {
        guard !replies.contains(where: { $0.transferID == id }) else { return }
        reply(.complete(completion), id: id, to: peer)
    }
}

/// When the endpoint looks at a session again. Outside the generic endpoint, so that its
/// heap is one concrete type: a nested type would be generic over the peer, and every
/// `nextTimeout` would instantiate (and allocate) its metadata.
struct SessionCheck: Comparable, Sendable {
    var at: Instant
    var transferID: UInt64
    static func < (lhs: SessionCheck, rhs: SessionCheck) -> Bool { (lhs.at, lhs.transferID) < (rhs.at, rhs.transferID) }
}
