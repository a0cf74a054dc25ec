import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSecurity
import P2MPSpool
import P2MPTransport

/// `p2mpsend push`: one file to many receivers over the native protocol.
public enum NativePush {
    public struct Options: Sendable {
        public var targets: [(name: String, address: SocketAddress)]
        public var source: FileSegmentSource
        public var name: String
        public var segmentSize: Int
        public var window: Int
        public var rateLimit: UInt64?
        public var giveUpAfter: Duration
        public var replaceExisting: Bool
        /// Draw the live progress display on standard output when it is a terminal.
        public var showsProgress = false
        /// Where the file's SHA-256 may be remembered from an earlier push (nil: no cache).
        public var digestCache: DigestCache?
        /// Hash the file even if `digestCache` remembers it.
        public var rehash = false
        /// How each receiver's rate adapts to its path.
        public var congestionControl = CongestionControl.modelBased
        /// Who we authenticate as and which host keys the targets must prove (default: in
        /// clear, for loopback daemons without trusted senders). `segmentSize` must leave room
        /// for `trust.overhead`.
        public var trust: ClientTrust

        public init(
            targets: [(name: String, address: SocketAddress)], source: FileSegmentSource, name: String,
            segmentSize: Int, window: Int, rateLimit: UInt64?, giveUpAfter: Duration, replaceExisting: Bool
        ) {
            self.targets = targets
            self.source = source
            self.name = name
            self.segmentSize = segmentSize
            self.window = window
            self.rateLimit = rateLimit
            self.giveUpAfter = giveUpAfter
            self.replaceExisting = replaceExisting
            trust = .plain(targets: targets.count)
        }
    }

    /// Hashes the file (or finds its digest in the cache), then pushes it to every target.
    public static func run(_ options: Options) async throws -> PushReport {
        let digest = try options.source.sha256(cache: options.digestCache, rehash: options.rehash)
        var random = SystemRandomNumberGenerator()
        let configuration = NativeSender.Configuration(
            transferID: random.next(), name: options.name, sha256: digest, segmentSize: options.segmentSize,
            window: options.window, replaceExisting: options.replaceExisting, giveUpAfter: options.giveUpAfter,
            rateLimit: options.rateLimit,
            packetOverhead: (options.targets.map { PathMTU.headerBytes(toward: $0.address) }.max() ?? 0) + options.trust.overhead,
            congestionControl: options.congestionControl)
        let bindings = Endpoint.wildcardBindings(reaching: options.targets.map(\.address))
        var report = try await DatagramRunner.run(bindingTo: bindings, on: MultiThreadedEventLoopGroup.singleton.next()) {
            NativePushApplication(options: options, configuration: configuration)
        }
        report.sha256 = "\(digest)"
        return report
    }
}

final class NativePushApplication: DatagramApplication {
    typealias Outcome = PushReport

    private let options: NativePush.Options
    private var sender: NativeSender
    /// The sessions to the targets; a receiver is offered the file once its session is up.
    private var links: ClientLinks?
    /// Receivers whose handshake nothing answered (never reached).
    private var unanswered: Set<Int> = []
    private let receiverIndex: [SocketAddress: Int]
    private var finishedAt: [Instant?]
    private var resumedFrom: [UInt64]
    private var startedAt = Instant.zero
    private var progress: ProgressState?
    private let display: ProgressDisplay?
    private var nextRedraw = Instant.zero
    static let redrawInterval: Duration = .milliseconds(100)

    init(options: NativePush.Options, configuration: NativeSender.Configuration) {
        self.options = options
        sender = NativeSender(fileSize: options.source.byteCount, receiverCount: options.targets.count, configuration: configuration)
        receiverIndex = Dictionary(uniqueKeysWithValues: options.targets.enumerated().map { ($0.element.address, $0.offset) })
        finishedAt = Array(repeating: nil, count: options.targets.count)
        resumedFrom = Array(repeating: 0, count: options.targets.count)
        let display = options.showsProgress ? ProgressDisplay(descriptor: STDOUT_FILENO) : nil
        self.display = display?.isTerminal == true ? display : nil
    }

    func start(io: DatagramIO<Outcome>) {
        startedAt = io.now
        if display != nil {
            progress = ProgressState(
                names: options.targets.map(\.name), fileSize: sender.fileSize, startTime: Self.seconds(startedAt))
        }
        links = ClientLinks(
            trust: options.trust, targets: options.targets.map(\.address), giveUpAfter: options.giveUpAfter,
            renewsSilentSessions: true, now: startedAt)
        drain(io, now: startedAt)
    }

    func receive(_ datagram: ByteBuffer, from address: SocketAddress, io: DatagramIO<Outcome>) {
        guard let receiver = receiverIndex[address], let links else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            if let plaintext = links.open(bytes, from: receiver, now: now) { sender.handle(plaintext, from: receiver, now: now) }
        }
        drain(io, now: now)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        let now = io.now
        links?.handleTimeout(now: now)
        sender.handleTimeout(now: now)
        drain(io, now: now)
    }

    /// Carries out what the sender asks for (file bytes, datagrams, progress) until it has
    /// nothing more, then arms the timer or finishes.
    private func drain(_ io: DatagramIO<Outcome>, now: Instant) {
        guard let links else { return }
        takeLinkEvents(links, now: now)
        links.sendHandshakes(io)
        repeat {
            takeEvents(now: now)
            while let next = sender.peekTransmit() {
                if next.isData {
                    links.sendData(to: next.receiver, size: next.size, io) { sender.pollTransmit(into: $0, now: now)?.size ?? 0 }
                } else {
                    links.send(to: next.receiver, maximumSize: next.size, io) { sender.pollTransmit(into: $0, now: now)?.size ?? 0 }
                }
            }
        } while sender.hasEvents  // DATA waits for payload the sender just asked for.
        updateProgress(now: now, final: sender.isFinished)
        if sender.isFinished {
            io.finish(report(now: now))
        } else {
            io.setTimer(Instant.earliest(Instant.earliest(sender.nextTimeout, links.nextTimeout), display == nil ? nil : nextRedraw))
        }
    }

    /// Offers the file to each receiver whose session came up, again to each whose session
    /// was renewed (its daemon may have restarted); ends those whose handshake failed.
    private func takeLinkEvents(_ links: ClientLinks, now: Instant) {
        while let event = links.pollEvent() {
            switch event {
            case .ready(let receiver, _):
                sender.start(receiver: receiver, now: now)
            case .renewed(let receiver):
                sender.sessionReplaced(receiver: receiver, now: now)
            case .failed(let receiver, let failure):
                if ClientLinks.isUnanswered(failure) { unanswered.insert(receiver) }
                sender.abandon(
                    receiver: receiver, reason: ClientLinks.explain(failure, target: options.targets[receiver].name), now: now)
            }
        }
    }

    private func takeEvents(now: Instant) {
        while let event = sender.pollEvent() {
            switch event {
            case .payloadNeeded(let block):
                let source = options.source
                sender.supplyPayload(block, now: now) { try source.read(offset: block.offset, into: $0) }
            case .accepted(let receiver, let resumeFrom):
                resumedFrom[receiver] = resumeFrom
            case .finished(let receiver, _):
                finishedAt[receiver] = now
            case .timedOut, .lossDetected:
                break
            }
        }
    }

    /// Brings the progress display up to date, at most every 100 ms (always at the end).
    private func updateProgress(now: Instant, final: Bool) {
        guard let display, var state = progress, final || now >= nextRedraw else { return }
        let segmentSize = UInt64(options.segmentSize)
        for index in state.receivers.indices {
            let acknowledged = min(sender.engine.acknowledgedSegments(of: index) * segmentSize, sender.fileSize)
            state.receivers[index].resumedBytes = min(resumedFrom[index] * segmentSize, sender.fileSize)
            switch sender.outcome(of: index) {
            case .committed?:
                state.receivers[index].phase = .committed
                state.receivers[index].bytesAcknowledged = sender.fileSize
            case let outcome?:
                if state.receivers[index].phase != .failed { state.fail(index, reason: "\(outcome)") }
            case nil:
                switch sender.engine.state(of: index) {
                case .pending: state.receivers[index].phase = .offering
                case .active: state.receivers[index].phase = .sending
                case .completed: state.receivers[index].phase = .verifying
                case .failed: break
                }
                state.receivers[index].bytesAcknowledged = acknowledged
            }
        }
        state.advance(to: Self.seconds(now))
        progress = state
        nextRedraw = now + Self.redrawInterval
        if final {
            display.finish(state)
        } else {
            display.redraw(state)
        }
    }

    private static func seconds(_ instant: Instant) -> Double { Double(instant.nanoseconds) / 1e9 }

    private func report(now: Instant) -> PushReport {
        let receivers = options.targets.indices.map { index in
            let statistics = sender.engine.statistics(of: index)
            let status: ReceiverReport.Status
            switch sender.outcome(of: index) {
            case .committed?: status = .completed
            case .rejected(let rejection)?: status = .failed(reason: "rejected (\(rejection.reason)): \(rejection.explanation)")
            case .aborted(let rejection)?: status = .failed(reason: "aborted (\(rejection.reason)): \(rejection.text)")
            case .failed(let completion)?: status = .failed(reason: "\(completion.status): \(completion.text)")
            case .noAnswer(let phase, let after)?:
                status = .failed(reason: "no answer for \(after.formattedSeconds) s (\(phase)); gave up")
            case .sourceFailed(let reason)?: status = .failed(reason: "cannot read the file: \(reason)")
            case .unauthenticated(let reason)?: status = .failed(reason: reason)
            case nil: status = .failed(reason: "push ended before this receiver finished")
            }
            let segmentSize = UInt64(options.segmentSize)
            let resumedBytes = min(resumedFrom[index] * segmentSize, sender.fileSize)
            var receiver = ReceiverReport(
                target: options.targets[index].name, address: options.targets[index].address.displayString,
                status: status, elapsed: (finishedAt[index] ?? now).duration(since: startedAt),
                transmissions: statistics.transmissions, retransmissions: statistics.retransmissions,
                timeouts: statistics.timeouts, smoothedRTT: statistics.smoothedRTT)
            receiver.resumedBytes = resumedBytes
            receiver.alreadyHeld = sender.outcome(of: index) == .committed(alreadyHeld: true)
            receiver.hostKey = links?.provedKeys[index]
            receiver.reception = sender.receptions[index]
            receiver.wasReached = statistics.transmissions > 0 || {
                if case .noAnswer(phase: .offer, _)? = sender.outcome(of: index) { return false }
                return !unanswered.contains(index)
            }()
            return receiver
        }
        return PushReport(bytes: sender.fileSize, elapsed: now.duration(since: startedAt), receivers: receivers)
    }
}
