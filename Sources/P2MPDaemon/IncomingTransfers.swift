import DequeModule
import Logging
import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSecurity
import P2MPSpool
import P2MPWire

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's receiving half: the native receiver endpoint and, for each transfer it
/// admits, a `ReceiveSession` on the storage; admission, commits, the post-receive hook and
/// their journal events. No sockets and no clock: the daemon (or the simulation) hands in
/// datagrams and time and sends what `pollTransmit` writes, as for a protocol machine, and
/// the storage and the hooks are handed in, so the simulation runs this very code on an
/// in-memory disk with faults.
///
/// Fleet queries the endpoint receives come out as `pollQuery()`: answering them is other
/// pieces' job (`FleetQueryResponder`, `OutgoingTransfers`).
package final class IncomingTransfers {
    package typealias Endpoint = NativeReceiverEndpoint<DaemonPeer>

    /// A fleet query for the daemon to answer.
    package struct Query {
        package var requestID: UInt64
        package var peer: DaemonPeer
        package var query: Endpoint.FleetQuery
    }

    package private(set) var configuration: DaemonConfiguration
    private var endpoint: Endpoint
    private let storage: any IncomingStorage
    private let hooks: any PostReceiveHooks
    private let logger: Logger
    private let wallClock: () -> Double
    private var sessions: [UInt64: ReceiveSession] = [:]
    /// Who started each partial made in this run and not yet committed or removed: a key's
    /// fingerprint, or an address (`max_partials_per_sender`).
    private var partialStarters: [ContentKey: String] = [:]
    /// Transfers whose OFFER waits for the spool to be looked up.
    private var admitting: Set<UInt64> = []
    private var queries = Deque<Query>()
    private var windowBytes = Int.max
    package private(set) var statistics = DaemonStatistics()
    /// When the running transfers' loss is next looked at (nil while none runs): every
    /// `loss_event_interval`, so each transfer logs at most one loss event per cause in it.
    private var nextLossCheck: Instant?

    package init(
        configuration: DaemonConfiguration, storage: any IncomingStorage, hooks: any PostReceiveHooks, logger: Logger,
        lossSeed: UInt64, wallClock: @escaping () -> Double
    ) {
        self.configuration = configuration
        self.storage = storage
        self.hooks = hooks
        self.logger = logger
        self.wallClock = wallClock
        endpoint = Endpoint(
            configuration: Self.endpointConfiguration(configuration, windowBytes: .max),
            loss: SimulatedLoss(probability: configuration.loss, seed: lossSeed))
    }

    static func endpointConfiguration(_ configuration: DaemonConfiguration, windowBytes: Int) -> Endpoint.Configuration {
        Endpoint.Configuration(
            maximumSessions: configuration.maxTransfers, windowBytes: windowBytes, idleTimeout: configuration.idleTimeout)
    }

    /// Unfinished transfers.
    package var activeSessions: Int { endpoint.activeSessions }

    package var nextTimeout: Instant? { Instant.earliest(endpoint.nextTimeout, nextLossCheck) }

    /// Applies a (re)loaded configuration; `windowBytes` bounds each transfer's window by
    /// what the socket can hold.
    package func reconfigure(_ configuration: DaemonConfiguration, windowBytes: Int) {
        self.configuration = configuration
        self.windowBytes = windowBytes
        endpoint.reconfigure(
            Self.endpointConfiguration(configuration, windowBytes: windowBytes), lossProbability: configuration.loss)
    }

    // MARK: - Inputs

    /// Handles one datagram. DATA for a transfer whose storage is behind is dropped before
    /// the endpoint sees it (counted), so the loop never waits for the disk.
    package func handle(_ bytes: UnsafeRawBufferPointer, from peer: DaemonPeer, now: Instant) {
        statistics.datagramsReceived += 1
        if let header = NativeDatagram.peekHeader(bytes), header.type == .data,
            sessions[header.transferID]?.partial.isBacklogged == true
        {
            statistics.droppedStorageBusy += 1
            endpoint.discardData(bytes, from: peer)
            return
        }
        endpoint.handle(bytes, from: peer, now: now)
        takeEvents(datagram: bytes, now: now)
    }

    /// Every datagram dropped so far by cause, the endpoint's counts included.
    package var drops: DaemonStatistics.Drops {
        let endpointCounts = endpoint.statistics
        var drops = DaemonStatistics.Drops()
        drops.notAuthenticated = statistics.droppedNotAuthenticated
        drops.storageBusy = statistics.droppedStorageBusy
        drops.malformed = endpointCounts.malformed
        drops.foreignPeer = endpointCounts.foreign
        drops.unknownTransfer = endpointCounts.unknownTransfer
        drops.duplicate = endpointCounts.duplicates
        return drops
    }

    /// Counts a datagram the daemon dropped before it reached the endpoint.
    package func countDropped(_ cause: DaemonStatistics.DropCause) {
        switch cause {
        case .notAuthenticated: statistics.droppedNotAuthenticated += 1
        }
    }

    package func handleTimeout(now: Instant) {
        endpoint.handleTimeout(now: now)
        takeEvents(datagram: nil, now: now)
        if let due = nextLossCheck, due <= now { checkLoss(now: now) }
    }

    /// Ends every transfer for a clean stop (ABORT shuttingDown to the senders); each
    /// partial records what it holds, for a resume.
    package func shutDown(now: Instant) {
        endpoint.shutDown()
        takeEvents(datagram: nil, now: now)
        for session in sessions.values { try? session.close() }
        sessions.removeAll()
    }

    // MARK: - Outputs

    package func peekTransmit() -> Endpoint.Transmit? { endpoint.peekTransmit() }

    package func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Endpoint.Transmit? {
        endpoint.pollTransmit(into: buffer)
    }

    package func pollQuery() -> Query? { queries.popFirst() }

    // MARK: - Carrying out the endpoint's events

    /// `datagram` is the one just handled (the payload of `.received` is a range of it).
    private func takeEvents(datagram: UnsafeRawBufferPointer?, now: Instant) {
        while let event = endpoint.pollEvent() {
            switch event {
            case .offered(let id, let peer, let offer):
                admit(id, peer: peer, offer: offer, now: now)
            case .received(let id, let offset, let payload, let contiguous):
                guard let datagram, let session = sessions[id] else { continue }
                do throws(SpoolError) {
                    try session.store(
                        UnsafeRawBufferPointer(rebasing: datagram[payload]), at: offset, contiguous: contiguous)
                    statistics.bytesReceived += UInt64(payload.count)
                } catch {
                    fail(session, "cannot write: \(error)", now: now)
                }
            case .allReceived(let id):
                guard let session = sessions[id] else { continue }
                finalize(session, now: now)
            case .duplicate(let id, let segment):
                log(.retransmit, .debug, "segment \(segment) arrived again", [
                    "p2mp_transfer_id": "\(Self.hex(id))", "p2mp_seq": "\(segment)",
                ])
            case .query(let requestID, let peer, let query):
                queries.append(Query(requestID: requestID, peer: peer, query: query))
            case .ended(let id, let reason, let reception):
                admitting.remove(id)
                guard let session = sessions.removeValue(forKey: id) else { continue }
                try? session.close()  // Keep what arrived, for a resume.
                if session.heldNothing { discard(session.partial) }  // Nothing to resume: reclaimed now.
                let why: String
                switch reason {
                case .idle: why = "sender silent for \(configuration.idleTimeout) (partial kept for a resume)"
                case .abortedBySender(let rejection): why = "sender aborted: \(rejection.text)"
                case .shutdown: why = "daemon stopping (partial kept for a resume)"
                }
                if reason != .shutdown { statistics.failed += 1 }
                let fields = endLoss(of: session, reception)
                log(.fail, .warning, "transfer of \(session.name) ended: \(why)", fields)
            }
        }
    }

    private func admit(_ id: UInt64, peer: DaemonPeer, offer: NativeOffer, now: Instant) {
        var fields: Logger.Metadata = [
            "p2mp_transfer_id": "\(Self.hex(id))", "p2mp_peer": "\(peer.displayString)", "p2mp_file": "\(offer.name)",
            "p2mp_bytes": "\(offer.fileSize)", "p2mp_sha256": "\(offer.sha256)",
        ]
        log(.offer, .info, "offer of '\(offer.name)' (\(offer.fileSize) bytes) from \(peer.displayString)", fields)
        let grant = self.grant(for: peer)
        if let key = grant.key {
            fields["p2mp_key"] = "\(key.fingerprint)"
            fields["p2mp_key_comment"] = "\(grant.comment)"
        }
        switch Admission.check(
            offer: offer, from: peer.address, grant: grant, configuration: configuration, spool: storage,
            promisedBytes: promisedBytes)
        {
        case .refuse(let rejection):
            log(.reject, .notice, "refused '\(offer.name)' from \(peer.displayString): \(rejection.text)", fields)
            endpoint.refuse(id, rejection)
        case .lookUp(let name):
            // What the spool holds under the name may take hashing a file: off the loop. The
            // endpoint keeps the session admitting (a repeated OFFER waits) meanwhile.
            admitting.insert(id)
            let conflict = configuration.conflict
            storage.lookUp({ Admission.decide(name: name, offer: offer, conflict: conflict, spool: $0) }) { [weak self] admission in
                guard let self, self.admitting.remove(id) != nil else { return }  // The session ended meanwhile.
                self.carryOut(admission, id: id, peer: peer, offer: offer, grant: grant, fields: fields, now: now)
            }
        }
    }

    /// Carries out the admission decided for the OFFER of `id` (`now` is when it arrived).
    private func carryOut(
        _ admission: Admission, id: UInt64, peer: DaemonPeer, offer: NativeOffer, grant: PeerGrant, fields: Logger.Metadata,
        now: Instant
    ) {
        var fields = fields
        switch admission {
        case .refuse(let rejection):
            log(.reject, .notice, "refused '\(offer.name)' from \(peer.displayString): \(rejection.text)", fields)
            endpoint.refuse(id, rejection)
        case .alreadyHeld:
            log(.accept, .info, "'\(offer.name)' is already held with this content", fields)
            statistics.completed += 1
            endpoint.admit(id, resumeFrom: 0, alreadyComplete: true, now: now)
        case .receive(let name, let replacing):
            guard let key = ContentKey(sha256: offer.sha256.bytes, size: offer.fileSize) else { return }
            let starter = Self.starter(of: peer, grant: grant)
            if let busy = partialLimit(for: key, starter: starter) {
                log(.reject, .notice, "refused '\(offer.name)' from \(peer.displayString): \(busy.text)", fields)
                endpoint.refuse(id, busy)
                return
            }
            let partial: any PartialStorage
            do throws(SpoolError) {
                partial = try openPartial(key, for: peer)
            } catch {
                let rejection: NativeRejection
                switch error {
                case .noSpace: rejection = NativeRejection(reason: .noSpace, text: "no space for \(offer.fileSize) bytes")
                case .io(let failure) where failure.code == EBUSY:
                    rejection = NativeRejection(reason: .busy, text: "this content is being received from another sender")
                default: rejection = NativeRejection(reason: .internalError, text: "\(error)")
                }
                log(.reject, .notice, "refused '\(offer.name)' from \(peer.displayString): \(rejection.text)", fields)
                endpoint.refuse(id, rejection)
                return
            }
            let session = ReceiveSession(
                transferID: id, peer: peer, grant: grant, offer: offer, name: name, replacing: replacing, partial: partial,
                startedAt: wallClock(), bufferBytes: storage.writeBufferBytes)
            sessions[id] = session
            if nextLossCheck == nil { nextLossCheck = now + configuration.lossEventInterval }
            if partialStarters[key] == nil, session.resumedBytes == 0 { partialStarters[key] = starter }
            fields["p2mp_file"] = "\(name.rawValue)"
            let resumed = session.resumedBytes > 0 ? ", resuming after \(session.resumedBytes) bytes" : ""
            log(.accept, .info, "receiving '\(name)' from \(peer.displayString) (\(grant.who))\(resumed)", fields)
            endpoint.admit(id, resumeFrom: session.resumeSegments, alreadyComplete: false, now: now)
        }
    }

    /// Opens the partial of `key`; if another session of the same sender holds it (the
    /// sender restarted and offers again under a new id), that session is superseded.
    private func openPartial(_ key: ContentKey, for peer: DaemonPeer) throws(SpoolError) -> any PartialStorage {
        if let stale = sessions.values.first(where: { $0.partial.content == key && $0.peer.ipAddress == peer.ipAddress }) {
            let fields = endLoss(of: stale, endpoint.reception(of: stale.transferID) ?? NativeReception())
            endpoint.drop(stale.transferID)
            try? stale.close()
            sessions[stale.transferID] = nil
            log(.fail, .info, "transfer \(Self.hex(stale.transferID)) of \(stale.name) superseded by a new offer", fields)
        }
        return try storage.openPartial(for: key)
    }

    private func finalize(_ session: ReceiveSession, now: Instant) {
        let id = session.transferID
        let reception = endpoint.reception(of: id) ?? NativeReception()
        let digest: ContentDigest?
        do throws(SpoolError) {
            digest = try session.verify()
        } catch {
            fail(session, "cannot read back: \(error)", now: now)
            return
        }
        guard let digest else {
            discard(session.partial)
            sessions[id] = nil
            statistics.failed += 1
            log(.fail, .error, "SHA-256 of \(session.name) does not match the offer; discarded", endLoss(of: session, reception))
            endpoint.finalized(
                id, NativeCompletion(status: .digestMismatch, sha256: .zero, text: "SHA-256 mismatch; partial discarded"),
                now: now)
            return
        }
        let metadata = FileMetadata(
            sender: session.peer.displayString, transferID: id, size: session.offer.fileSize,
            sha256: "\(digest)", startTime: session.startedAt, endTime: wallClock(),
            senderKey: session.grant.key.map { "\($0.fingerprint)" })
        do throws(SpoolError) {
            try storage.commit(session.partial, as: session.name, metadata: metadata, replacing: session.replacing)
        } catch {
            if case .metadataNotWritten = error {
                log(.fail, .warning, "\(session.name) committed, but its metadata sidecar was not written: \(error)", self.metadata(session))
            } else {
                fail(session, "cannot commit: \(error)", now: now)
                return
            }
        }
        sessions[id] = nil
        partialStarters[session.partial.content] = nil
        statistics.completed += 1
        log(
            .complete, .notice,
            "received \(session.name) (\(session.offer.fileSize) bytes, sha256 \(digest)) from \(session.peer.displayString); "
                + LossText.totals(reception),
            endLoss(of: session, reception))
        endpoint.finalized(id, NativeCompletion(status: .committed, sha256: digest), now: now)
        if let command = configuration.postReceive, !command.isEmpty {
            hooks.run(
                command: command, timeout: configuration.postReceiveTimeout,
                .init(
                    path: storage.path(of: session.name), name: session.name.rawValue, bytes: session.offer.fileSize,
                    sha256: "\(digest)", peer: session.peer.displayString, transferID: Self.hex(id)))
        }
    }

    // MARK: - Partials

    /// Why a new partial of `key` may not be started by `starter`, or nil: the spool holds
    /// `max_partials`, or `starter` has `max_partials_per_sender` unfinished. A content that
    /// has a partial already resumes it and adds none.
    private func partialLimit(for key: ContentKey, starter: String) -> NativeRejection? {
        guard !storage.hasPartial(for: key) else { return nil }
        if storage.partialCount >= configuration.maxPartials {
            return NativeRejection(
                reason: .busy, text: "the spool holds \(storage.partialCount) partial files (max_partials \(configuration.maxPartials))")
        }
        partialStarters = partialStarters.filter { storage.hasPartial(for: $0.key) }  // Swept or removed meanwhile.
        let started = partialStarters.values.count { $0 == starter }
        if started >= configuration.maxPartialsPerSender {
            return NativeRejection(
                reason: .busy,
                text: "\(started) partial files from this sender are unfinished (max_partials_per_sender \(configuration.maxPartialsPerSender))")
        }
        return nil
    }

    /// Who a partial counts against: the key, or the address of an unauthenticated peer.
    static func starter(of peer: DaemonPeer, grant: PeerGrant) -> String {
        grant.key.map { "key \($0.fingerprint)" } ?? (peer.ipAddress ?? peer.displayString)
    }

    /// Bytes the running transfers will still write: free space they are promised, which
    /// partials allocated as data arrives have not taken from the disk yet.
    private var promisedBytes: UInt64 {
        sessions.values.reduce(0) { total, session in
            let held = session.resumedBytes + session.bytesWritten
            return total &+ (session.offer.fileSize - min(held, session.offer.fileSize))
        }
    }

    private func discard(_ partial: any PartialStorage) {
        partial.discard()
        partialStarters[partial.content] = nil
    }

    private func fail(_ session: ReceiveSession, _ reason: String, now: Instant) {
        try? session.close()  // Its storage has failed or finished; this waits for it.
        sessions[session.transferID] = nil
        statistics.failed += 1
        let fields = endLoss(of: session, endpoint.reception(of: session.transferID) ?? NativeReception())
        log(.fail, .error, "transfer of \(session.name) failed: \(reason)", fields)
        endpoint.failStorage(session.transferID, reason: reason, now: now)
    }

    // MARK: - Loss

    /// Logs the loss each running transfer reported since its last loss event (one event
    /// per cause that lost segments), adds it to the totals, and schedules the next check.
    private func checkLoss(now: Instant) {
        for session in sessions.values {
            guard let reception = endpoint.reception(of: session.transferID) else { continue }
            for report in session.loss.periodicReports(reception) { logLoss(report, of: session, final: false) }
            statistics.reception = statistics.reception.adding(session.loss.unaccounted(reception))
        }
        nextLossCheck = sessions.isEmpty ? nil : now + configuration.lossEventInterval
    }

    /// The transfer ends: logs its last loss events, adds the rest to the totals, and returns
    /// the metadata of its closing event with its totals.
    private func endLoss(of session: ReceiveSession, _ reception: NativeReception) -> Logger.Metadata {
        for report in session.loss.finalReports(reception) { logLoss(report, of: session, final: true) }
        statistics.reception = statistics.reception.adding(session.loss.unaccounted(reception))
        return metadata(session).merging(LossText.fields(reception)) { $1 }
    }

    private func logLoss(_ report: LossReport, of session: ReceiveSession, final: Bool) {
        var fields = metadata(session).merging(LossText.fields(report)) { $1 }
        fields["p2mp_bytes"] = nil
        fields["p2mp_sha256"] = nil
        log(.loss, .info, LossText.message(report, file: session.name.rawValue, peer: session.peer.displayString, final: final), fields)
    }

    // MARK: - Logging

    private func metadata(_ session: ReceiveSession) -> Logger.Metadata {
        var fields: Logger.Metadata = [
            "p2mp_transfer_id": "\(Self.hex(session.transferID))", "p2mp_peer": "\(session.peer.displayString)",
            "p2mp_file": "\(session.name.rawValue)", "p2mp_bytes": "\(session.offer.fileSize)",
            "p2mp_sha256": "\(session.offer.sha256)",
        ]
        if let key = session.grant.key {
            fields["p2mp_key"] = "\(key.fingerprint)"
            fields["p2mp_key_comment"] = "\(session.grant.comment)"
        }
        return fields
    }

    // MARK: - Who may do what

    /// What authenticated sessions may do, by session id (the daemon keeps it current).
    private var grants: [UInt64: PeerGrant] = [:]

    /// Records what session `id` may do; nil forgets it (the session ended).
    package func setGrant(_ grant: PeerGrant?, forSession id: UInt64) {
        grants[id] = grant
    }

    /// What `peer` may do: its session's grant; for an unauthenticated peer, when no
    /// trusted-senders file is set and it is on loopback, what `allow` and `manage_allow`
    /// give its address; otherwise nothing.
    package func grant(for peer: DaemonPeer) -> PeerGrant {
        if peer.isAuthenticated { return grants[peer.session] ?? .none }
        guard configuration.trustedSenders == nil, peer.address.isLoopback else { return .none }
        let address = peer.address.addressBytes ?? []
        var rights: SenderRights = []
        if configuration.allows(ipAddress: address) { rights.formUnion([.push, .read]) }
        if configuration.allowsManagement(ipAddress: address) { rights.insert(.manage) }
        return PeerGrant(rights: rights)
    }

    private func log(_ event: DaemonEvent, _ level: Logger.Level, _ message: String, _ fields: Logger.Metadata = [:]) {
        var fields = fields
        fields["p2mp_event"] = "\(event.rawValue)"
        logger.log(level: level, "\(message)", metadata: fields)
    }

    /// A transfer id as the journal shows it: 16 hex digits.
    static func hex(_ id: UInt64) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Runs the post-receive hook after a commit, without blocking the caller.
package protocol PostReceiveHooks {
    func run(command: String, timeout: Duration, _ invocation: PostReceiveHook.Invocation)
}
