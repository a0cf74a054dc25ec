import Logging
import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSpool
import P2MPSystemd
import P2MPTransport
import P2MPWire

#if canImport(Glibc)
import Glibc
#endif

/// What reaches the daemon's loop from outside it: signals.
public enum DaemonCommand: Sendable {
    /// SIGHUP: the configuration was read again (off the loop); errors keep the old one.
    case reload(Result<DaemonConfiguration, ConfigurationErrors>)
    /// SIGTERM or SIGINT.
    case stop
}

/// How a daemon run ended.
public struct DaemonSummary: Sendable {
    public var completed: Int
    public var failed: Int
}

/// p2mpd's main loop: the native protocol's receiver endpoint, on the spool, with journald
/// events and sd_notify. Runs on one event loop; every method is called there.
final class ReceiverDaemon: CommandableDatagramApplication {
    typealias Outcome = DaemonSummary
    typealias Command = DaemonCommand
    typealias Endpoint = NativeReceiverEndpoint<SocketAddress>

    private var configuration: DaemonConfiguration
    private var endpoint: Endpoint
    private let spool: Spool
    private var logger: Logger
    private let notifier: SystemdNotifier
    private var sessions: [UInt64: ReceiveSession] = [:]
    private var statistics = DaemonStatistics()
    private var fleetQueries = FleetQueryResponder()
    private var outgoing = OutgoingTransfers()
    private var nextStatusUpdate = Instant.zero
    private var nextWatchdog: Instant?
    private var nextPartialSweep = Instant.zero
    private var windowBytes = Int.max

    static let statusInterval: Duration = .seconds(2)
    /// How often partials older than `partial_max_age` are looked for (also at start).
    static let partialSweepInterval: Duration = .seconds(3_600)

    init(configuration: DaemonConfiguration, spool: Spool, logger: Logger, notifier: SystemdNotifier, lossSeed: UInt64) {
        self.configuration = configuration
        self.spool = spool
        self.logger = logger
        self.notifier = notifier
        endpoint = Endpoint(
            configuration: Self.endpointConfiguration(configuration, windowBytes: .max),
            loss: SimulatedLoss(probability: configuration.loss, seed: lossSeed))
    }

    static func endpointConfiguration(_ configuration: DaemonConfiguration, windowBytes: Int) -> Endpoint.Configuration {
        Endpoint.Configuration(
            maximumSessions: configuration.maxTransfers, windowBytes: windowBytes, idleTimeout: configuration.idleTimeout)
    }

    /// The window each transfer is offered, in payload bytes: a third of the socket's receive
    /// buffer, since the kernel charges a datagram about twice its payload (measured with
    /// `ss -m` on loopback), with room left for other transfers. Never below 4 MiB, so that a
    /// daemon whose buffer could not be enlarged (net.core.rmem_max) still fills long paths.
    static func windowBytes(receiveBufferBytes: Int) -> Int {
        max(receiveBufferBytes / 3, 4 << 20)
    }

    /// Receive buffers smaller than this (in the kernel's doubled accounting) are reported.
    static let smallReceiveBuffer = 8 << 20

    /// What to tell the operator when the kernel capped the receive buffer (no
    /// CAP_NET_ADMIN and a small net.core.rmem_max, as under the packaged unit by default).
    static func receiveBufferWarning(receiveBufferBytes: Int) -> String? {
        guard receiveBufferBytes < smallReceiveBuffer else { return nil }
        return "socket receive buffer is only \(receiveBufferBytes >> 10) KiB (capped by net.core.rmem_max): "
            + "a fast push can overrun it and lose datagrams; set net.core.rmem_max and net.core.wmem_max "
            + "to 33554432 (e.g. in /etc/sysctl.d/60-p2mpd.conf)"
    }

    // MARK: - DatagramApplication

    func start(io: DatagramIO<Outcome>) {
        windowBytes = Self.windowBytes(receiveBufferBytes: io.receiveBufferBytes)
        endpoint.reconfigure(
            Self.endpointConfiguration(configuration, windowBytes: windowBytes), lossProbability: configuration.loss)
        let addresses = io.localAddresses.map(\.displayString).joined(separator: ", ")
        log(.start, .notice, "p2mpd \(P2MPVersion.string) listening on \(addresses), spool \(spool.root)")
        if let warning = Self.receiveBufferWarning(receiveBufferBytes: io.receiveBufferBytes) {
            log(.start, .warning, warning)
        }
        notifier.ready(status: statistics.statusLine(active: 0))
        if let interval = notifier.watchdogInterval {
            nextWatchdog = io.now + interval
            notifier.watchdog()
        }
        nextStatusUpdate = io.now + Self.statusInterval
        nextPartialSweep = io.now + Self.partialSweepInterval
        rearm(io)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        statistics.datagramsReceived += 1
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            if let id = NativeDatagram.peekTransferID(bytes), outgoing.handles(id) {
                let ended = outgoing.receive(bytes, transferID: id, from: sender, now: now, io: io)
                if let ended { logSent(ended) }
                return
            }
            endpoint.handle(bytes, from: sender, now: now)
            takeEvents(io, datagram: bytes, now: now)
        }
    }

    /// ACKs and replies leave once per read batch, so a burst of DATA costs one ACK.
    func receiveBatchComplete(io: DatagramIO<Outcome>) {
        sendTransmits(io)
        rearm(io)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        let now = io.now
        endpoint.handleTimeout(now: now)
        takeEvents(io, datagram: nil, now: now)
        sendTransmits(io)
        for ended in outgoing.handleTimeout(now: now, io: io) { logSent(ended) }
        if let due = nextWatchdog, due <= now, let interval = notifier.watchdogInterval {
            notifier.watchdog()
            nextWatchdog = now + interval
        }
        if nextStatusUpdate <= now {
            notifier.status(statistics.statusLine(active: endpoint.activeSessions))
            nextStatusUpdate = now + Self.statusInterval
        }
        if nextPartialSweep <= now {
            nextPartialSweep = now + Self.partialSweepInterval
            if let removed = try? spool.removeStalePartials(olderThan: configuration.partialMaxAge.seconds), removed > 0 {
                log(.fail, .info, "removed \(removed) partial files older than \(configuration.partialMaxAge)")
            }
        }
        rearm(io)
    }

    func handle(_ command: DaemonCommand, io: DatagramIO<Outcome>) {
        switch command {
        case .reload(let result):
            notifier.reloading()
            switch result {
            case .success(let reloaded):
                apply(reloaded)
            case .failure(let errors):
                for error in errors.errors {
                    log(.configError, .error, "\(error); keeping the running configuration")
                }
            }
            notifier.ready(status: statistics.statusLine(active: endpoint.activeSessions))
        case .stop:
            notifier.stopping()
            endpoint.shutDown()
            takeEvents(io, datagram: nil, now: io.now)
            sendTransmits(io)
            for session in sessions.values { try? session.close() }
            sessions.removeAll()
            log(.stop, .notice, "p2mpd stopping: \(statistics.completed) completed, \(statistics.failed) failed")
            io.finish(DaemonSummary(completed: statistics.completed, failed: statistics.failed))
        }
    }

    // MARK: - Carrying out the endpoint's requests

    /// Sends the endpoint's ACKs and replies.
    private func sendTransmits(_ io: DatagramIO<Outcome>) {
        while let next = endpoint.peekTransmit() {
            io.send(maximumSize: next.size, to: next.peer) { endpoint.pollTransmit(into: $0)?.size ?? 0 }
        }
    }

    /// Carries out what the endpoint asks for; `datagram` is the one just handled.
    private func takeEvents(_ io: DatagramIO<Outcome>, datagram: UnsafeRawBufferPointer?, now: Instant) {
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
            case .discarded(let id, let peer, let segment):
                statistics.discarded += 1
                sessions[id]?.discarded += 1
                log(.loss, .info, "simulated loss of segment \(segment) from \(peer.displayString)", [
                    "p2mp_transfer_id": "\(hex(id))", "p2mp_peer": "\(peer.displayString)", "p2mp_seq": "\(segment)",
                    "p2mp_file": "\(sessions[id]?.name.rawValue ?? "?")",
                ])
            case .duplicate(let id, let segment):
                sessions[id]?.retransmitted += 1
                log(.retransmit, .debug, "segment \(segment) arrived again", [
                    "p2mp_transfer_id": "\(hex(id))", "p2mp_seq": "\(segment)",
                ])
            case .query(let requestID, let peer, .get(let name)):
                guard !outgoing.isAnswering(requestID, from: peer) else { continue }
                guard configuration.allows(ipAddress: peer.addressBytes ?? []) else {
                    send(.result(NativeResult(status: .refused, text: "not allowed from \(peer.ipAddress ?? "?")")), id: requestID, to: peer, io)
                    continue
                }
                if let refusal = outgoing.start(name: name, requestID: requestID, to: peer, spool: spool, now: now, io: io) {
                    send(.result(refusal), id: requestID, to: peer, io)
                } else {
                    log(.offer, .info, "sending '\(name)' to \(peer.displayString)", ["p2mp_peer": "\(peer.displayString)", "p2mp_file": "\(name)"])
                }
            case .query(let requestID, let peer, let query):
                let (response, line) = fleetQueries.answer(
                    query, requestID: requestID, from: peer, configuration: configuration, spool: spool, now: now)
                send(response, id: requestID, to: peer, io)
                if let line {
                    let file: String
                    switch query {
                    case .move(let from, _): file = from
                    case .remove(let name): file = name
                    case .list, .get: file = ""
                    }
                    log(.manage, .notice, line, ["p2mp_peer": "\(peer.displayString)", "p2mp_file": "\(file)"])
                }
            case .ended(let id, let reason):
                guard let session = sessions.removeValue(forKey: id) else { continue }
                try? session.close()  // Keep what arrived, for a resume.
                let why: String
                switch reason {
                case .idle: why = "sender silent for \(configuration.idleTimeout) (partial kept for a resume)"
                case .abortedBySender(let rejection): why = "sender aborted: \(rejection.text)"
                case .shutdown: why = "daemon stopping (partial kept for a resume)"
                }
                if reason != .shutdown { statistics.failed += 1 }
                log(.fail, .warning, "transfer of \(session.name) ended: \(why)", metadata(session))
            }
        }
    }

    private func admit(_ id: UInt64, peer: SocketAddress, offer: NativeOffer, now: Instant) {
        var fields: Logger.Metadata = [
            "p2mp_transfer_id": "\(hex(id))", "p2mp_peer": "\(peer.displayString)", "p2mp_file": "\(offer.name)",
            "p2mp_bytes": "\(offer.fileSize)", "p2mp_sha256": "\(offer.sha256)",
        ]
        log(.offer, .info, "offer of '\(offer.name)' (\(offer.fileSize) bytes) from \(peer.displayString)", fields)
        switch Admission.decide(offer: offer, from: peer, configuration: configuration, spool: spool) {
        case .refuse(let rejection):
            log(.reject, .notice, "refused '\(offer.name)' from \(peer.displayString): \(rejection.text)", fields)
            endpoint.refuse(id, rejection)
        case .alreadyHeld:
            log(.accept, .info, "'\(offer.name)' is already held with this content", fields)
            statistics.completed += 1
            endpoint.admit(id, resumeFrom: 0, alreadyComplete: true, now: now)
        case .receive(let name, let replacing):
            guard let key = ContentKey(sha256: offer.sha256.bytes, size: offer.fileSize) else { return }
            let partial: PartialFile
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
                transferID: id, peer: peer, offer: offer, name: name, replacing: replacing, partial: partial,
                startedAt: Self.wallClock())
            sessions[id] = session
            fields["p2mp_file"] = "\(name.rawValue)"
            let resumed = session.resumedBytes > 0 ? ", resuming after \(session.resumedBytes) bytes" : ""
            log(.accept, .info, "receiving '\(name)' from \(peer.displayString)\(resumed)", fields)
            endpoint.admit(id, resumeFrom: session.resumeSegments, alreadyComplete: false, now: now)
        }
    }

    /// Opens the partial of `key`; if another session of the same sender holds it (the
    /// sender restarted and offers again under a new id), that session is superseded.
    private func openPartial(_ key: ContentKey, for peer: SocketAddress) throws(SpoolError) -> PartialFile {
        if let stale = sessions.values.first(where: { $0.partial.content == key && $0.peer.ipAddress == peer.ipAddress }) {
            endpoint.drop(stale.transferID)
            try? stale.close()
            sessions[stale.transferID] = nil
            log(.fail, .info, "transfer \(hex(stale.transferID)) of \(stale.name) superseded by a new offer", metadata(stale))
        }
        return try spool.openPartial(for: key)
    }

    private func finalize(_ session: ReceiveSession, now: Instant) {
        let id = session.transferID
        let digest: P2MPWire.SHA256Digest?
        do throws(SpoolError) {
            digest = try session.verify()
        } catch {
            fail(session, "cannot read back: \(error)", now: now)
            return
        }
        guard let digest else {
            session.partial.discard()
            sessions[id] = nil
            statistics.failed += 1
            log(.fail, .error, "SHA-256 of \(session.name) does not match the offer; discarded", metadata(session))
            endpoint.finalized(
                id, NativeCompletion(status: .digestMismatch, sha256: .zero, text: "SHA-256 mismatch; partial discarded"),
                now: now)
            return
        }
        let metadata = FileMetadata(
            sender: session.peer.displayString, transferID: id, size: session.offer.fileSize,
            sha256: "\(digest)", startTime: session.startedAt, endTime: Self.wallClock())
        do throws(SpoolError) {
            try spool.commit(session.partial, as: session.name, metadata: metadata, replacing: session.replacing)
        } catch {
            if case .metadataNotWritten = error {
                log(.fail, .warning, "\(session.name) committed, but its metadata sidecar was not written: \(error)", self.metadata(session))
            } else {
                fail(session, "cannot commit: \(error)", now: now)
                return
            }
        }
        sessions[id] = nil
        statistics.completed += 1
        log(
            .complete, .notice,
            "received \(session.name) (\(session.offer.fileSize) bytes, sha256 \(digest)) from \(session.peer.displayString); "
                + "\(session.discarded) discarded, \(session.retransmitted) retransmitted",
            self.metadata(session))
        endpoint.finalized(id, NativeCompletion(status: .committed, sha256: digest), now: now)
        notifier.status(statistics.statusLine(active: endpoint.activeSessions))
        if let command = configuration.postReceive, !command.isEmpty {
            PostReceiveHook(command: command, timeout: configuration.postReceiveTimeout).run(
                .init(
                    path: spool.path(of: session.name), name: session.name.rawValue, bytes: session.offer.fileSize,
                    sha256: "\(digest)", peer: session.peer.displayString, transferID: hex(id)),
                logger: logger)
        }
    }

    private func fail(_ session: ReceiveSession, _ reason: String, now: Instant) {
        try? session.close()  // Its storage has failed or finished; this waits for it.
        sessions[session.transferID] = nil
        statistics.failed += 1
        log(.fail, .error, "transfer of \(session.name) failed: \(reason)", metadata(session))
        endpoint.failStorage(session.transferID, reason: reason, now: now)
    }

    private func apply(_ reloaded: DaemonConfiguration) {
        if reloaded.listen != configuration.listen || reloaded.spool != configuration.spool {
            log(.reload, .warning, "'listen' and 'spool' changes take effect when p2mpd restarts")
        }
        configuration = reloaded
        logger.logLevel = Logger.Level(reloaded.logLevel)
        endpoint.reconfigure(
            Self.endpointConfiguration(reloaded, windowBytes: windowBytes), lossProbability: reloaded.loss)
        log(.reload, .notice, "configuration reloaded (log level \(reloaded.logLevel.rawValue), loss \(reloaded.loss))")
    }

    private func rearm(_ io: DatagramIO<Outcome>) {
        io.setTimer(
            [endpoint.nextTimeout, outgoing.nextTimeout, nextStatusUpdate, nextWatchdog, nextPartialSweep]
                .compactMap { $0 }.min())
    }

    private func send(_ packet: NativePacket, id: UInt64, to peer: SocketAddress, _ io: DatagramIO<Outcome>) {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: id, packet: packet).encode(into: &bytes)
        io.send(bytes, to: peer)
    }

    private func logSent(_ ended: OutgoingTransfers.Ended) {
        let fields: Logger.Metadata = ["p2mp_peer": "\(ended.peer.displayString)", "p2mp_file": "\(ended.name)"]
        if case .committed = ended.outcome {
            log(.complete, .notice, "sent '\(ended.name)' to \(ended.peer.displayString)", fields)
        } else {
            log(.fail, .warning, "sending '\(ended.name)' to \(ended.peer.displayString) failed: \(ended.outcome)", fields)
        }
    }

    // MARK: - Logging

    private func metadata(_ session: ReceiveSession) -> Logger.Metadata {
        [
            "p2mp_transfer_id": "\(hex(session.transferID))", "p2mp_peer": "\(session.peer.displayString)",
            "p2mp_file": "\(session.name.rawValue)", "p2mp_bytes": "\(session.offer.fileSize)",
            "p2mp_sha256": "\(session.offer.sha256)",
        ]
    }

    private func log(_ event: DaemonEvent, _ level: Logger.Level, _ message: String, _ fields: Logger.Metadata = [:]) {
        var fields = fields
        fields["p2mp_event"] = "\(event.rawValue)"
        logger.log(level: level, "\(message)", metadata: fields)
    }

    private func hex(_ id: UInt64) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

extension Logger.Level {
    init(_ level: LogLevel) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}
