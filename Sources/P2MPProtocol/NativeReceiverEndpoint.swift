import HeapModule
import P2MPWire

/// The receiving side of the native protocol for every transfer that reaches one socket:
/// routing by transfer id, the session table, handshake, selective-repeat data,
/// completion, and timers. Sans-I/O: storage decisions and writes are asked of the caller
/// through outputs (`admit`, `store`, `finalize`), which answers with `admit`/`refuse`,
/// `failStorage` and `finalized`.
///
/// Bounded: at most `maximumSessions` unfinished sessions (more get REJECT busy),
/// finished ones linger `linger` to repeat their COMPLETE, idle ones expire, and replies
/// to datagrams of unknown transfers are rate-limited.
public struct NativeReceiverEndpoint<Peer: Hashable & Sendable, Random: RandomNumberGenerator>: Sendable
where Random: Sendable {
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

    public enum Output: Sendable {
        case send(Peer, [UInt8])
        /// A new offer: check it against policy and storage, then call `admit` or `refuse`.
        case admit(transferID: UInt64, peer: Peer, offer: NativeOffer)
        /// Write `payload` (a range of the datagram being handled) at `offset`.
        case store(transferID: UInt64, offset: UInt64, payload: Range<Int>)
        /// Every segment is held: verify the digest, commit, then call `finalized`.
        case finalize(transferID: UInt64)
        /// Simulated loss discarded this DATA segment.
        case discarded(transferID: UInt64, peer: Peer, segment: UInt64)
        /// A segment that was already held arrived again (the sender retransmitted it).
        case duplicate(transferID: UInt64, segment: UInt64)
        /// The session is gone without a commit; any partial stays for a resume.
        case ended(transferID: UInt64, reason: EndReason)
        /// A fleet query (ls, mv, rm): answer `peer` under the same `requestID`.
        case query(requestID: UInt64, peer: Peer, FleetQuery)
    }

    /// What `p2mpsend ls`, `mv` and `rm` ask of a receiver.
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

    /// Counters for status lines and tests.
    public struct Statistics: Sendable, Equatable {
        public var malformed = 0
        public var foreign = 0
        public var unknownTransfer = 0
        public var discarded = 0
        public var duplicates = 0
    }

    private enum Phase: Sendable {
        case admitting(NativeOffer)
        case receiving(NativeReceiveWindow)
        case finalizing(NativeReceiveWindow)
        case finished(NativeCompletion)
    }

    private struct Session: Sendable {
        var peer: Peer
        var phase: Phase
        var lastHeard: Instant
        var acknowledgementPending = false
        /// The latest timer check scheduled for this session; nil would mean no check will
        /// ever visit it (the liveness invariant says that never happens).
        var latestCheck: Instant?

        /// Moves the window of a receiving session out, leaving a placeholder phase until
        /// the caller puts it back. A copy left behind in `phase` would make every DATA
        /// datagram copy the window's bitmap when the window changes.
        mutating func takeReceivingWindow() -> NativeReceiveWindow? {
            guard case .receiving(let window) = phase else { return nil }
            phase = .finished(NativeCompletion(status: .committed, sha256: .zero))
            return window
        }
    }

    private struct Check: Comparable, Sendable {
        var at: Instant
        var transferID: UInt64
        static func < (lhs: Check, rhs: Check) -> Bool { (lhs.at, lhs.transferID) < (rhs.at, rhs.transferID) }
    }

    public private(set) var configuration: Configuration
    public private(set) var statistics = Statistics()
    private var sessions: [UInt64: Session] = [:]
    private var checks = Heap<Check>()
    private var loss: SimulatedLoss<Random>
    private var unknownReplyBudget: Int
    private var unknownReplySecond: UInt64 = 0
    private var pendingAcknowledgements: [UInt64] = []

    public init(configuration: Configuration, loss: SimulatedLoss<Random>) {
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
        switch sessions[transferID]?.phase {
        case .receiving(let window), .finalizing(let window): window.contiguousBytes
        default: nil
        }
    }

    /// Handles one datagram.
    public mutating func receive(
        _ bytes: UnsafeRawBufferPointer, from peer: Peer, now: Instant, into outputs: inout [Output]
    ) {
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
        case .offer(let offer): handleOffer(offer, id: id, peer: peer, now: now, into: &outputs)
        case .data(let data): handleData(data, id: id, peer: peer, now: now, into: &outputs)
        case .probe: handleProbe(id: id, peer: peer, now: now, into: &outputs)
        case .abort(let rejection):
            guard sessions[id] != nil else { return }
            if case .finished = sessions[id]!.phase {
                sessions[id] = nil
                return
            }
            sessions[id] = nil
            outputs.append(.ended(transferID: id, reason: .abortedBySender(rejection)))
        case .list(let cursor):
            outputs.append(.query(requestID: id, peer: peer, .list(cursor: cursor)))
        case .move(let from, let to):
            outputs.append(.query(requestID: id, peer: peer, .move(from: from, to: to)))
        case .remove(let name):
            outputs.append(.query(requestID: id, peer: peer, .remove(name: name)))
        case .get(let name):
            outputs.append(.query(requestID: id, peer: peer, .get(name: name)))
        case .accept, .reject, .ack, .complete, .listing, .result:
            statistics.malformed += 1  // Sender-bound packets have no business here.
        }
    }

    /// The caller accepted the offer of `transferID`; the receiver already holds segments
    /// `0..<resumeFrom` (verified), or the whole content when `alreadyComplete`.
    public mutating func admit(
        _ transferID: UInt64, resumeFrom: UInt64, alreadyComplete: Bool, now: Instant, into outputs: inout [Output]
    ) {
        guard var session = sessions[transferID], case .admitting(let offer) = session.phase else { return }
        let window = NativeReceiveWindow(
            segmentSize: Int(offer.segmentSize), fileSize: offer.fileSize,
            window: min(
                configuration.window, Int(max(1, offer.window)),
                max(1, configuration.windowBytes / Int(max(1, offer.segmentSize)))),
            resumeFrom: alreadyComplete ? .max : resumeFrom)
        let accept = NativeAccept(
            resumeFrom: window.cumulative, window: UInt32(window.window), alreadyComplete: alreadyComplete)
        send(.accept(accept), id: transferID, to: session.peer, into: &outputs)
        session.lastHeard = now
        if alreadyComplete {
            session.phase = .finished(NativeCompletion(status: .committed, sha256: offer.sha256, text: "already held"))
            sessions[transferID] = session
            send(.complete(NativeCompletion(status: .committed, sha256: offer.sha256)), id: transferID, to: session.peer, into: &outputs)
            schedule(transferID, at: now + configuration.linger)
            return
        }
        if window.isComplete {
            session.phase = .finalizing(window)
            sessions[transferID] = session
            outputs.append(.finalize(transferID: transferID))
        } else {
            session.phase = .receiving(window)
            sessions[transferID] = session
        }
        schedule(transferID, at: now + configuration.idleTimeout)
    }

    /// The caller refused the offer of `transferID`.
    public mutating func refuse(_ transferID: UInt64, _ rejection: NativeRejection, into outputs: inout [Output]) {
        guard let session = sessions[transferID], case .admitting = session.phase else { return }
        sessions[transferID] = nil
        send(.reject(rejection), id: transferID, to: session.peer, into: &outputs)
    }

    /// Writing or committing failed: tell the sender and end the session.
    public mutating func failStorage(_ transferID: UInt64, reason: String, now: Instant, into outputs: inout [Output]) {
        finish(transferID, NativeCompletion(status: .writeFailed, sha256: .zero, text: reason), now: now, into: &outputs)
    }

    /// The caller verified and committed (or not) the file of `transferID`.
    public mutating func finalized(_ transferID: UInt64, _ completion: NativeCompletion, now: Instant, into outputs: inout [Output]) {
        finish(transferID, completion, now: now, into: &outputs)
    }

    /// Sends one ACK per session that received data since the last flush; call once per
    /// batch of datagrams so a burst costs one ACK.
    public mutating func flushAcknowledgements(into outputs: inout [Output]) {
        for id in pendingAcknowledgements {
            guard var session = sessions[id], session.acknowledgementPending else { continue }
            session.acknowledgementPending = false
            sessions[id] = session
            switch session.phase {
            case .receiving(let window), .finalizing(let window):
                send(.ack(window.acknowledgement()), id: id, to: session.peer, into: &outputs)
            default: break
            }
        }
        pendingAcknowledgements.removeAll(keepingCapacity: true)
    }

    /// When `handleTimer` next has work.
    public var nextDeadline: Instant? { checks.min?.at }

    /// A session that no timer check will ever visit, so that nothing could end it if its
    /// sender fell silent; nil unless the endpoint is broken. (For the simulation's
    /// after-every-step invariant.)
    public var sessionWithoutDeadline: UInt64? {
        sessions.first { $0.value.latestCheck == nil }?.key
    }

    /// Expires idle sessions and ends lingering ones.
    public mutating func handleTimer(now: Instant, into outputs: inout [Output]) {
        while let check = checks.min, check.at <= now {
            _ = checks.popMin()
            guard let index = sessions.index(forKey: check.transferID) else { continue }
            if sessions.values[index].latestCheck == check.at { sessions.values[index].latestCheck = nil }
            let session = sessions.values[index]
            switch session.phase {
            case .finished:
                if session.lastHeard + configuration.linger <= now {
                    sessions[check.transferID] = nil
                } else {
                    schedule(check.transferID, at: session.lastHeard + configuration.linger)
                }
            case .finalizing:
                schedule(check.transferID, at: now + configuration.idleTimeout)  // the caller is busy committing
            case .admitting, .receiving:
                if session.lastHeard + configuration.idleTimeout <= now {
                    sessions[check.transferID] = nil
                    outputs.append(.ended(transferID: check.transferID, reason: .idle))
                } else {
                    schedule(check.transferID, at: session.lastHeard + configuration.idleTimeout)
                }
            }
        }
    }

    /// Ends every unfinished session with ABORT(shuttingDown), for a clean stop.
    public mutating func shutDown(into outputs: inout [Output]) {
        for (id, session) in sessions {
            if case .finished = session.phase { continue }
            send(.abort(NativeRejection(reason: .shuttingDown, text: "receiver is stopping")), id: id, to: session.peer, into: &outputs)
            outputs.append(.ended(transferID: id, reason: .shutdown))
        }
        sessions.removeAll()
        checks = Heap()
    }

    // MARK: - Packets

    private mutating func handleOffer(
        _ offer: NativeOffer, id: UInt64, peer: Peer, now: Instant, into outputs: inout [Output]
    ) {
        if var session = sessions[id] {
            session.lastHeard = now
            sessions[id] = session
            switch session.phase {
            case .admitting: return  // The caller is still deciding.
            case .receiving(let window), .finalizing(let window):
                // Our ACCEPT was lost: repeat it.
                send(.accept(NativeAccept(resumeFrom: window.cumulative, window: UInt32(window.window))), id: id, to: peer, into: &outputs)
            case .finished(let completion):
                send(.complete(completion), id: id, to: peer, into: &outputs)
            }
            return
        }
        let segmentSize = UInt64(offer.segmentSize)
        guard segmentSize >= 1, segmentSize <= UInt64(NativeDatagram.maximumPayload),
            offer.fileSize / segmentSize < 1 << 40
        else {
            send(.reject(NativeRejection(reason: .malformedOffer, text: "segment size \(offer.segmentSize) out of range")), id: id, to: peer, into: &outputs)
            return
        }
        guard activeSessions < configuration.maximumSessions else {
            send(.reject(NativeRejection(reason: .busy, text: "\(configuration.maximumSessions) transfers already running")), id: id, to: peer, into: &outputs)
            return
        }
        sessions[id] = Session(peer: peer, phase: .admitting(offer), lastHeard: now)
        schedule(id, at: now + configuration.idleTimeout)
        outputs.append(.admit(transferID: id, peer: peer, offer: offer))
    }

    private mutating func handleData(
        _ data: NativeDataSegment, id: UInt64, peer: Peer, now: Instant, into outputs: inout [Output]
    ) {
        // The session is updated in place through its index (no structural change to the
        // table happens here), so the window's bitmap is never shared while it changes.
        guard let index = sessions.index(forKey: id) else {
            replyUnknown(id: id, peer: peer, now: now, into: &outputs)
            return
        }
        sessions.values[index].lastHeard = now
        guard var window = sessions.values[index].takeReceivingWindow() else {
            switch sessions.values[index].phase {
            case .finished(let completion):
                send(.complete(completion), id: id, to: peer, into: &outputs)
            case .finalizing:
                markAcknowledgementPending(at: index, id: id)
            case .admitting, .receiving:
                break
            }
            return
        }
        if loss.shouldDiscard() {
            sessions.values[index].phase = .receiving(window)
            statistics.discarded += 1
            outputs.append(.discarded(transferID: id, peer: peer, segment: data.segment))
            return
        }
        switch window.receive(segment: data.segment, length: data.payload.count, timestamp: data.timestamp) {
        case .store(let offset):
            outputs.append(.store(transferID: id, offset: offset, payload: data.payload))
        case .duplicate:
            statistics.duplicates += 1
            outputs.append(.duplicate(transferID: id, segment: data.segment))
        case .outsideWindow, .wrongLength:
            statistics.malformed += 1
        }
        let isComplete = window.isComplete
        sessions.values[index].phase = isComplete ? .finalizing(window) : .receiving(window)
        markAcknowledgementPending(at: index, id: id)
        if isComplete { outputs.append(.finalize(transferID: id)) }
    }

    private mutating func handleProbe(id: UInt64, peer: Peer, now: Instant, into outputs: inout [Output]) {
        guard let index = sessions.index(forKey: id) else {
            replyUnknown(id: id, peer: peer, now: now, into: &outputs)
            return
        }
        sessions.values[index].lastHeard = now
        switch sessions.values[index].phase {
        case .admitting:
            break
        case .receiving, .finalizing:
            markAcknowledgementPending(at: index, id: id)
        case .finished(let completion):
            send(.complete(completion), id: id, to: peer, into: &outputs)
        }
    }

    // MARK: - Helpers

    private mutating func finish(_ id: UInt64, _ completion: NativeCompletion, now: Instant, into outputs: inout [Output]) {
        guard var session = sessions[id] else { return }
        if case .finished = session.phase { return }
        session.phase = .finished(completion)
        session.lastHeard = now
        session.acknowledgementPending = false
        sessions[id] = session
        send(.complete(completion), id: id, to: session.peer, into: &outputs)
        schedule(id, at: now + configuration.linger)
    }

    private mutating func markAcknowledgementPending(at index: [UInt64: Session].Index, id: UInt64) {
        guard !sessions.values[index].acknowledgementPending else { return }
        sessions.values[index].acknowledgementPending = true
        pendingAcknowledgements.append(id)
    }

    private mutating func replyUnknown(id: UInt64, peer: Peer, now: Instant, into outputs: inout [Output]) {
        statistics.unknownTransfer += 1
        let second = now.nanoseconds / 1_000_000_000
        if second != unknownReplySecond {
            unknownReplySecond = second
            unknownReplyBudget = configuration.unknownTransferRepliesPerSecond
        }
        guard unknownReplyBudget > 0 else { return }
        unknownReplyBudget -= 1
        send(.abort(NativeRejection(reason: .unknownTransfer, text: "no such transfer")), id: id, to: peer, into: &outputs)
    }

    /// Schedules a check of session `id`, which must be in the table.
    private mutating func schedule(_ id: UInt64, at instant: Instant) {
        checks.insert(Check(at: instant, transferID: id))
        if let index = sessions.index(forKey: id) {
            sessions.values[index].latestCheck = max(sessions.values[index].latestCheck ?? instant, instant)
        }
    }

    private func send(_ packet: NativePacket, id: UInt64, to peer: Peer, into outputs: inout [Output]) {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: id, packet: packet).encode(into: &bytes)
        outputs.append(.send(peer, bytes))
    }
}
