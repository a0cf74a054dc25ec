import Logging
import NIOCore
import P2MPConfiguration
import P2MPKeys
import P2MPProtocol
import P2MPSecurity
import P2MPSpool
import P2MPSystemd
import P2MPTransport
import P2MPWire

#if canImport(Glibc)
import Glibc
#endif

/// What reaches the daemon's loop from outside it: signals.
public enum DaemonCommand: Sendable {
    /// SIGHUP: the configuration and the trusted-senders file were read again (off the
    /// loop); errors keep the old ones.
    case reload(Result<DaemonSettings, ConfigurationErrors>)
    /// SIGTERM or SIGINT.
    case stop
}

/// The configuration and the trust list it names, as read together.
public struct DaemonSettings: Sendable {
    public var configuration: DaemonConfiguration
    /// Empty when `trusted_senders` is not set.
    public var trustedSenders: TrustedSenders
}

/// How a daemon run ended.
public struct DaemonSummary: Sendable {
    public var completed: Int
    public var failed: Int
}

/// p2mpd's main loop on one event loop: it routes datagrams to `IncomingTransfers` (pushes
/// to this daemon), `OutgoingTransfers` (files it sends for `get`) and `FleetQueryResponder`
/// (ls, mv, rm), keeps `Housekeeping`'s timers, and applies signals. Every method runs on
/// the loop.
final class ReceiverDaemon: CommandableDatagramApplication {
    typealias Outcome = DaemonSummary
    typealias Command = DaemonCommand

    private var configuration: DaemonConfiguration
    private let spool: Spool
    private var logger: Logger
    private let notifier: SystemdNotifier
    private let incoming: IncomingTransfers
    private var fleetQueries = FleetQueryResponder()
    private var listings = Listings()
    /// Files renamed or removed through `mv` and `rm` (with commits: when a listing is stale).
    private var spoolChanges = 0
    private var outgoing = OutgoingTransfers()
    private var housekeeping: Housekeeping
    private var windowBytes = Int.max
    private let channels: PeerChannels
    private let hostKey: KeyPairFile
    private var trustedSenders: TrustedSenders
    private var authFailures = AuthFailureLog()
    private var unauthenticatedReplies = ReplyBudget(perSecond: 100)
    /// Where lookups that may hash files run, off the loop; listings have a thread of their
    /// own, so that a long walk never delays an OFFER.
    private let work: BackgroundWork
    private let walks: BackgroundWork
    /// The drops last logged (a `drop` event when they changed, at most every `dropLogInterval`).
    private var loggedDrops = DaemonStatistics.Drops()
    private var nextDropLog = Instant.zero
    static let dropLogInterval: Duration = .seconds(10)

    init(
        settings: DaemonSettings, spool: Spool, logger: Logger, notifier: SystemdNotifier, lossSeed: UInt64,
        hostKey: KeyPairFile, loop: any EventLoop
    ) {
        configuration = settings.configuration
        trustedSenders = settings.trustedSenders
        self.spool = spool
        self.logger = logger
        self.notifier = notifier
        self.hostKey = hostKey
        work = BackgroundWork(loop: loop)
        walks = BackgroundWork(loop: loop)
        incoming = IncomingTransfers(
            configuration: configuration, storage: SpoolStorage(spool: spool, work: work), hooks: ProcessHooks(logger: logger),
            logger: logger, lossSeed: lossSeed, wallClock: Self.wallClock)
        housekeeping = Housekeeping(watchdogInterval: notifier.watchdogInterval)
        channels = PeerChannels(
            sessions: SecureSessions(
                identity: hostKey.privateKey, trustedSenders: settings.trustedSenders,
                random: SystemRandomNumberGenerator(), now: Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds).sinceOrigin))
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
        work.afterEach = { [unowned self, unowned io] in self.afterBackgroundWork(io) }
        walks.afterEach = work.afterEach
        windowBytes = Self.windowBytes(receiveBufferBytes: io.receiveBufferBytes)
        incoming.reconfigure(configuration, windowBytes: windowBytes)
        let addresses = io.localAddresses.map(\.displayString).joined(separator: ", ")
        log(.start, .notice, "p2mpd \(P2MPVersion.string) listening on \(addresses), spool \(spool.root)")
        if let warning = Self.receiveBufferWarning(receiveBufferBytes: io.receiveBufferBytes) {
            log(.start, .warning, warning)
        }
        let host = "host key \(hostKey.publicKey.fingerprint)"
        if let file = configuration.trustedSenders {
            log(.start, .notice, "authenticated requests only: \(trustedSenders.grants.count) trusted senders in \(file); \(host)")
        } else {
            log(
                .start, .warning,
                "trusted_senders is not set: serving unauthenticated requests from loopback addresses only; \(host)")
        }
        notifier.ready(status: incoming.statistics.statusLine(active: 0))
        if notifier.watchdogInterval != nil { notifier.watchdog() }
        housekeeping.start(now: io.now)
        rearm(io)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            guard PeerChannels.Sessions.isSecure(bytes) else {
                receiveUnauthenticated(bytes, from: sender, now: now, io: io)
                return
            }
            switch channels.handle(bytes, from: sender, now: now.sinceOrigin) {
            case .plaintext(let size, let session):
                guard let peer = channels.peer(ofSession: session) else { return }
                deliver(UnsafeRawBufferPointer(rebasing: channels.plaintext[0..<size]), from: peer, now: now, io: io)
            case .handshake:
                takeSessionEvents(now: now)
            case .dropped:
                incoming.countDropped(.notAuthenticated)
            }
        }
        answerQueries(io, now: now)
    }

    /// A datagram of the native protocol in clear: served only from loopback, and only while
    /// no trusted-senders file is set; otherwise refused with a reply no larger than it.
    private func receiveUnauthenticated(_ bytes: UnsafeRawBufferPointer, from sender: SocketAddress, now: Instant, io: DatagramIO<Outcome>) {
        guard configuration.trustedSenders != nil || !sender.isLoopback else {
            deliver(bytes, from: DaemonPeer(address: sender), now: now, io: io)
            return
        }
        incoming.countDropped(.notAuthenticated)
        let reason =
            configuration.trustedSenders != nil
            ? "authentication required: run p2mpsend keygen and have this daemon trust the key"
            : "only loopback is served until trusted_senders is set"
        guard let refusal = UnauthenticatedRefusal.reply(to: bytes, reason: reason), unauthenticatedReplies.take(now: now) else {
            return
        }
        logAuthFailure(peer: sender, key: nil, reason: reason, now: now)
        io.send(maximumSize: refusal.count, to: sender) { buffer in
            refusal.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return refusal.count
        }
    }

    /// A datagram of the native protocol from `peer` (opened, or a loopback one in clear).
    private func deliver(_ bytes: UnsafeRawBufferPointer, from peer: DaemonPeer, now: Instant, io: DatagramIO<Outcome>) {
        if let id = NativeDatagram.peekTransferID(bytes), outgoing.handles(id) {
            if let ended = outgoing.receive(bytes, transferID: id, from: peer, now: now, channels: channels, io: io) {
                logSent(ended)
            }
            return
        }
        incoming.handle(bytes, from: peer, now: now)
    }

    /// Work done off the loop came back (an OFFER's lookup, a listing): send what it made
    /// the daemon answer, as after a read batch.
    private func afterBackgroundWork(_ io: DatagramIO<Outcome>) {
        guard !io.hasFinished else { return }
        answerQueries(io, now: io.now)
        sendTransmits(io)
        rearm(io)
        io.flush()
    }

    /// ACKs and replies leave once per read batch, so a burst of DATA costs one ACK.
    func receiveBatchComplete(io: DatagramIO<Outcome>) {
        sendTransmits(io)
        rearm(io)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        let now = io.now
        channels.handleTimeout(now: now.sinceOrigin)
        takeSessionEvents(now: now)
        incoming.handleTimeout(now: now)
        answerQueries(io, now: now)
        sendTransmits(io)
        for ended in outgoing.handleTimeout(now: now, channels: channels, io: io) { logSent(ended) }
        for chore in housekeeping.due(now: now) {
            switch chore {
            case .watchdog:
                notifier.watchdog()
            case .status:
                notifier.status(incoming.statistics.statusLine(active: incoming.activeSessions))
                logDrops(now: now)
            case .sweepPartials:
                if let removed = try? spool.removeStalePartials(olderThan: configuration.partialMaxAge.seconds), removed > 0 {
                    log(.fail, .info, "removed \(removed) partial files older than \(configuration.partialMaxAge)")
                }
            case .reclaimEmptyPartials:
                let age = Housekeeping.emptyPartialInterval
                if let removed = try? spool.removeEmptyPartials(olderThan: age.seconds), removed > 0 {
                    log(.fail, .info, "removed \(removed) partial files that received no data in \(age)")
                }
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
                apply(reloaded.configuration)
                applyTrust(reloaded.trustedSenders)
            case .failure(let errors):
                for error in errors.errors {
                    log(.configError, .error, "\(error); keeping the running configuration")
                }
            }
            notifier.ready(status: incoming.statistics.statusLine(active: incoming.activeSessions))
        case .stop:
            notifier.stopping()
            incoming.shutDown(now: io.now)
            sendTransmits(io)
            let statistics = incoming.statistics
            log(
                .stop, .notice,
                "p2mpd stopping: \(statistics.completed) completed, \(statistics.failed) failed; dropped: \(drops.summary); "
                    + channels.handshakeSummary)
            io.finish(DaemonSummary(completed: statistics.completed, failed: statistics.failed))
        }
    }

    // MARK: - Routing

    /// Sends the incoming transfers' ACKs and replies (sealed for authenticated peers), and
    /// the handshake replies.
    private func sendTransmits(_ io: DatagramIO<Outcome>) {
        while let next = incoming.peekTransmit() {
            channels.send(to: next.peer, maximumSize: next.size, io) { incoming.pollTransmit(into: $0)?.size ?? 0 }
        }
        channels.sendHandshakes(io)
    }

    /// What the sessions report: new ones get their grant, ended ones lose it, refusals are
    /// logged (rate-limited).
    private func takeSessionEvents(now: Instant) {
        while let event = channels.pollEvent() {
            switch event {
            case .established(let session, let peer, let key, let rights, let comment):
                let prefix = trustedSenders.grant(for: key)?.namePrefix
                incoming.setGrant(PeerGrant(rights: rights, namePrefix: prefix, key: key, comment: comment), forSession: session)
                log(
                    .session, .info, "authenticated session with \(key.fingerprint) (\(comment)) from \(peer), rights \(rights)",
                    [
                        "p2mp_peer": "\(peer)", "p2mp_key": "\(key.fingerprint)", "p2mp_key_comment": "\(comment)",
                        "p2mp_rights": "\(rights)",
                    ])
            case .refused(let peer, let key, let reason):
                incoming.countDropped(.notAuthenticated)
                logAuthFailure(peer: peer.address, key: key, reason: reason, now: now)
            case .ended(let session, let peer, let reason):
                let grant = incoming.grant(for: DaemonPeer(address: peer.address, session: session))
                incoming.setGrant(nil, forSession: session)
                var fields: Logger.Metadata = ["p2mp_peer": "\(peer)", "p2mp_reason": "\(reason)"]
                if let key = grant.key { fields["p2mp_key"] = "\(key.fingerprint)" }
                log(.sessionEnd, .info, "session with \(grant.who) from \(peer) ended: \(reason)", fields)
            }
        }
    }

    /// Every datagram dropped so far, by cause: the daemon's counts, the endpoint's and the
    /// secure sessions'.
    var drops: DaemonStatistics.Drops {
        var drops = incoming.drops
        let sealed = channels.sessions.statistics
        let handshake = channels.sessions.responder.statistics
        drops.secureMalformed = sealed.malformed
        drops.unknownSession = sealed.unknownSession
        drops.replayed = sealed.replayed
        drops.forged = sealed.forged
        drops.handshake =
            handshake.malformed + handshake.badCookies + handshake.halfOpenFull + handshake.unknownSession + handshake.forged
            + handshake.transmitQueueFull
        return drops
    }

    /// Logs the drops by cause when they changed, at most every `dropLogInterval`.
    private func logDrops(now: Instant) {
        guard now >= nextDropLog else { return }
        let current = drops
        guard current != loggedDrops else { return }
        nextDropLog = now + Self.dropLogInterval
        let added = current.total - loggedDrops.total
        loggedDrops = current
        log(
            .drop, .notice, "dropped \(added) datagrams in the last interval; since start: \(current.summary)",
            ["p2mp_dropped": "\(current.total)"])
    }

    private func logAuthFailure(peer: SocketAddress, key: IdentityKey?, reason: String, now: Instant) {
        let (shouldLog, heldBack) = authFailures.admit(now: now)
        guard shouldLog else { return }
        var fields: Logger.Metadata = ["p2mp_peer": "\(peer.displayString)", "p2mp_reason": "\(reason)"]
        if let key { fields["p2mp_key"] = "\(key.fingerprint)" }
        if heldBack > 0 { fields["p2mp_suppressed"] = "\(heldBack)" }
        let more = heldBack > 0 ? " (\(heldBack) more not logged)" : ""
        log(.authFailed, .warning, "refused \(key.map { "key \($0.fingerprint)" } ?? "a sender") at \(peer.displayString): \(reason)\(more)", fields)
    }

    /// Answers the fleet queries that arrived: `get` starts a transfer of its own, the rest
    /// the responder answers from the spool.
    private func answerQueries(_ io: DatagramIO<Outcome>, now: Instant) {
        while let query = incoming.pollQuery() {
            let (requestID, peer) = (query.requestID, query.peer)
            switch query.query {
            case .get(let name):
                guard !outgoing.isAnswering(requestID, from: peer) else { continue }
                let grant = incoming.grant(for: peer)
                guard configuration.allows(ipAddress: peer.address.addressBytes ?? []), grant.rights.contains(.read) else {
                    channels.send(.result(NativeResult(status: .refused, text: grant.refusal("get is", from: peer.address, right: "read", setting: "allow"))), id: requestID, to: peer, io)
                    continue
                }
                let requester = grant.key.map { "key \($0.fingerprint)" } ?? peer.displayString
                if let refusal = outgoing.start(
                    name: name, requestID: requestID, to: peer, requester: requester, spool: spool, now: now, channels: channels,
                    io: io)
                {
                    channels.send(.result(refusal), id: requestID, to: peer, io)
                } else {
                    log(.offer, .info, "sending '\(name)' to \(peer.displayString)", ["p2mp_peer": "\(peer.displayString)", "p2mp_file": "\(name)"])
                }
            case .list(let cursor):
                let grant = incoming.grant(for: peer)
                guard configuration.allows(ipAddress: peer.address.addressBytes ?? []), grant.rights.contains(.read) else {
                    channels.send(.result(NativeResult(status: .refused, text: grant.refusal("listing is", from: peer.address, right: "read", setting: "allow"))), id: requestID, to: peer, io)
                    continue
                }
                switch listings.list(
                    from: cursor, requestID: requestID, peer: peer, changes: incoming.statistics.completed + spoolChanges, now: now)
                {
                case .answer(let listing): channels.send(.listing(listing), id: requestID, to: peer, io)
                case .busy(let result): channels.send(.result(result), id: requestID, to: peer, io)
                case .wait: break
                case .walk: walkSpool(io)
                }
            case let other:
                let (response, line) = fleetQueries.answer(
                    other, requestID: requestID, from: peer, grant: incoming.grant(for: peer), configuration: configuration,
                    spool: spool)
                channels.send(response, id: requestID, to: peer, io)
                if case .result(let result) = response, result.status == .done { spoolChanges += 1 }
                if let line {
                    let file: String
                    switch other {
                    case .move(let from, _): file = from
                    case .remove(let name): file = name
                    case .list, .get: file = ""
                    }
                    log(.manage, .notice, line, ["p2mp_peer": "\(peer.displayString)", "p2mp_file": "\(file)"])
                }
            }
        }
    }

    /// Walks the spool for the listings that wait, off the loop (it may hash files).
    private func walkSpool(_ io: DatagramIO<Outcome>) {
        let spool = spool
        walks.run({ Result { () throws(SpoolError) in try spool.listFiles() } }) { [unowned self] files in
            for answer in listings.walked(files, now: io.now) {
                channels.send(.listing(answer.listing), id: answer.requestID, to: answer.peer, io)
            }
        }
    }

    private func apply(_ reloaded: DaemonConfiguration) {
        if reloaded.listen != configuration.listen || reloaded.spool != configuration.spool {
            log(.reload, .warning, "'listen' and 'spool' changes take effect when p2mpd restarts")
        }
        configuration = reloaded
        logger.logLevel = Logger.Level(reloaded.logLevel)
        incoming.reconfigure(reloaded, windowBytes: windowBytes)
        log(.reload, .notice, "configuration reloaded (log level \(reloaded.logLevel.rawValue), loss \(reloaded.loss))")
    }

    /// A reloaded trust list: the sessions whose key it dropped end, the others take the
    /// rights it now grants.
    private func applyTrust(_ reloaded: TrustedSenders) {
        trustedSenders = reloaded
        channels.replaceTrustedSenders(reloaded)
        takeSessionEvents(now: .zero)
        for (id, session) in channels.sessions.sessions {
            guard let grant = reloaded.grant(for: session.established.peerKey) else { continue }
            incoming.setGrant(
                PeerGrant(rights: grant.rights, namePrefix: grant.namePrefix, key: session.established.peerKey, comment: grant.comment),
                forSession: id)
        }
        if configuration.trustedSenders != nil {
            log(.reload, .notice, "trusted senders reloaded: \(reloaded.grants.count) keys in \(configuration.trustedSenders ?? "")")
        }
    }

    private func rearm(_ io: DatagramIO<Outcome>) {
        let sessions = channels.nextTimeout.map(Instant.init(sinceOrigin:))
        io.setTimer(
            Instant.earliest(
                Instant.earliest(Instant.earliest(incoming.nextTimeout, outgoing.nextTimeout), housekeeping.nextDue), sessions))
    }

    private func logSent(_ ended: OutgoingTransfers.Ended) {
        let fields: Logger.Metadata = ["p2mp_peer": "\(ended.peer.displayString)", "p2mp_file": "\(ended.name)"]
        if case .committed = ended.outcome {
            log(.complete, .notice, "sent '\(ended.name)' to \(ended.peer.displayString)", fields)
        } else {
            log(.fail, .warning, "sending '\(ended.name)' to \(ended.peer.displayString) failed: \(ended.outcome)", fields)
        }
    }

    private func log(_ event: DaemonEvent, _ level: Logger.Level, _ message: String, _ fields: Logger.Metadata = [:]) {
        var fields = fields
        fields["p2mp_event"] = "\(event.rawValue)"
        logger.log(level: level, "\(message)", metadata: fields)
    }

    static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// Post-receive hooks as child processes (`PostReceiveHook`) on a bounded `HookQueue`,
/// logged when they end, and when the queue is full and one is not run.
struct ProcessHooks: PostReceiveHooks {
    let logger: Logger
    let queue = HookQueue()

    func run(command: String, timeout: Duration, _ invocation: PostReceiveHook.Invocation) {
        guard !PostReceiveHook(command: command, timeout: timeout).run(invocation, on: queue, logger: logger) else { return }
        logger.error(
            "post-receive hook for \(invocation.name) not run: \(queue.capacity) hooks are running or waiting",
            metadata: ["p2mp_event": "hook", "p2mp_file": "\(invocation.name)", "p2mp_transfer_id": "\(invocation.transferID)"])
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
