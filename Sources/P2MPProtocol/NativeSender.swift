import DequeModule
import P2MPWire

/// The sending side of the native protocol: one file pushed to many receivers, each
/// independent of the others.
///
/// Per receiver: OFFER (repeated with backoff until ACCEPT or REJECT), data through the
/// shared `SenderEngine` from the receiver's resume point, then waiting for COMPLETE
/// (PROBE with backoff). A receiver that lost its session (ABORT unknownTransfer or
/// shuttingDown, or the authenticated session under it was replaced: `sessionReplaced`)
/// is offered the file again and resumes. A receiver silent for
/// `giveUpAfter` in any phase is reported failed; the others go on.
///
/// The machine contract (docs/ARCHITECTURE.md): hand in datagrams with `handle` and expired
/// timers with `handleTimeout`; then drain `pollTransmit` and `pollEvent` until both return
/// nil, and arm a timer for `nextTimeout`. The machine reads no file: when DATA waits for
/// bytes it asks with `.payloadNeeded`, and `supplyPayload` hands them in.
public struct NativeSender: Sendable {
    public struct Configuration: Sendable {
        /// Seeds the transfer ids: each receiver session gets its own id derived from it,
        /// and a fresh one when it is offered the file again, so packets of an earlier
        /// incarnation of a session can never be mistaken for the current one.
        public var transferID: UInt64
        public var name: String
        public var sha256: ContentDigest
        public var segmentSize: Int
        public var window: Int
        public var replaceExisting: Bool
        public var giveUpAfter: Duration
        /// Cap on the total send rate over all receivers, bytes per second.
        public var rateLimit: UInt64?
        /// How often a receiver may lose its session and be offered the file again: a
        /// safety bound against a receiver that aborts forever, far above real restarts.
        public var maximumReoffers: Int
        /// Bytes an IP and UDP header add to each datagram, for pacing and the rate cap.
        public var packetOverhead: Int
        /// How each receiver's sending rate adapts to the path.
        public var congestionControl: CongestionControl

        public init(
            transferID: UInt64, name: String, sha256: ContentDigest, segmentSize: Int = 1_400, window: Int = 4_096,
            replaceExisting: Bool = false, giveUpAfter: Duration = .seconds(30), rateLimit: UInt64? = nil,
            maximumReoffers: Int = 1_000, packetOverhead: Int = 28, congestionControl: CongestionControl = .modelBased
        ) {
            self.transferID = transferID
            self.name = name
            self.sha256 = sha256
            self.segmentSize = segmentSize
            self.window = window
            self.replaceExisting = replaceExisting
            self.giveUpAfter = giveUpAfter
            self.rateLimit = rateLimit
            self.maximumReoffers = maximumReoffers
            self.packetOverhead = packetOverhead
            self.congestionControl = congestionControl
        }
    }

    /// The phase a receiver went silent in.
    public enum Phase: String, Sendable, Equatable, CustomStringConvertible {
        case offer, data, completion
        public var description: String { rawValue }
    }

    /// How one receiver ended.
    public enum Outcome: Equatable, Sendable {
        /// The receiver verified the SHA-256 and committed the file; `alreadyHeld` when it
        /// had the content already and no data was sent.
        case committed(alreadyHeld: Bool)
        case rejected(NativeRejection)
        case aborted(NativeRejection)
        /// The receiver reported a digest mismatch or a write failure.
        case failed(NativeCompletion)
        /// Silence for the give-up time.
        case noAnswer(phase: Phase, after: Duration)
        /// The application could not supply the file's bytes.
        case sourceFailed(String)
        /// No authenticated session to the receiver came up; why.
        case unauthenticated(String)
    }

    /// What the application must act on or may report.
    public enum Event: Equatable, Sendable {
        case accepted(receiver: Int, resumeFrom: UInt64)
        case timedOut(receiver: Int, segment: UInt64)
        case lossDetected(receiver: Int, count: Int)
        case finished(receiver: Int, Outcome)
        /// DATA waits for these bytes of the file: read them with `supplyPayload`. Until
        /// then no more datagrams are polled.
        case payloadNeeded(PayloadBlock)
    }

    /// A datagram `pollTransmit` wrote, or `peekTransmit` announces.
    public struct Transmit: Equatable, Sendable {
        public var receiver: Int
        public var size: Int
        /// Bulk DATA: consecutive ones to one receiver are all of one size (but the last
        /// segment's) and may leave together in one segmented send.
        public var isData: Bool
    }

    private enum ReceiverPhase: Sendable {
        /// Not offered yet (its session is not up).
        case waiting
        case offering(RequestRetry)
        case transferring
        case completing(RequestRetry)
        case done(Outcome)
    }

    private enum Control: Sendable {
        case offer, probe
    }

    private struct DataTransmission: Sendable {
        var receiver: Int
        var transferID: UInt64
        var segment: UInt64
    }

    public let configuration: Configuration
    public let fileSize: UInt64
    public let segmentCount: UInt64
    public private(set) var engine: SenderEngine
    /// Datagrams that were not for this transfer or did not decode.
    public private(set) var ignoredDatagrams = 0
    /// The current transfer id of each receiver's session.
    public private(set) var transferIDs: [UInt64]
    /// What each receiver reported it saw of the DATA of its last session, in its COMPLETE
    /// (nil: no COMPLETE yet, or a receiver that sends no report).
    public private(set) var receptions: [NativeReception?]
    private var phases: [ReceiverPhase]
    private var reoffers: [Int]
    /// Offer and completion retries, per receiver.
    private var control: DeadlineQueue
    private var actions: [SenderEngine.Action] = []
    private var events = Deque<Event>()
    /// OFFERs and PROBEs to send, encoded when polled (they are rare; arrays are fine).
    private var controlQueue = Deque<(receiver: Int, packet: Control)>()
    private var dataQueue = Deque<DataTransmission>()
    private var payload: PayloadStore
    private let offer: NativeOffer
    private var remaining: Int

    /// A sender of a file of `fileSize` bytes to `receiverCount` receivers.
    public init(fileSize: UInt64, receiverCount: Int, configuration: Configuration) {
        self.configuration = configuration
        self.fileSize = fileSize
        let size = UInt64(max(1, configuration.segmentSize))
        segmentCount = fileSize.dividedRoundingUp(by: size)
        engine = SenderEngine(
            receiverCount: receiverCount, segmentCount: segmentCount,
            configuration: SenderConfiguration(
                window: configuration.window, groupPolicy: .independent, retransmissionTimeout: .adaptive(.standard),
                giveUpAfter: configuration.giveUpAfter, congestionControl: configuration.congestionControl,
                segmentBytes: NativeDatagram.dataDatagramSize(payload: Int(size)) + configuration.packetOverhead,
                rateLimit: configuration.rateLimit))
        phases = Array(repeating: .waiting, count: receiverCount)
        reoffers = Array(repeating: 0, count: receiverCount)
        control = DeadlineQueue(keys: receiverCount)
        payload = PayloadStore(fileSize: fileSize, segmentSize: Int(size))
        offer = NativeOffer(
            segmentSize: UInt32(size), fileSize: fileSize, sha256: configuration.sha256,
            window: UInt32(configuration.window),
            flags: configuration.replaceExisting ? [.replaceExisting, .receptionReport] : .receptionReport,
            name: configuration.name)
        transferIDs = (0..<receiverCount).map { Self.mix(configuration.transferID &+ UInt64($0)) }
        receptions = Array(repeating: nil, count: receiverCount)
        remaining = receiverCount
    }

    public var isFinished: Bool { remaining == 0 }

    /// The outcome of `receiver`, once it is done.
    public func outcome(of receiver: Int) -> Outcome? {
        if case .done(let outcome) = phases[receiver] { outcome } else { nil }
    }

    /// When `handleTimeout` next has work.
    public var nextTimeout: Instant? { Instant.earliest(engine.nextTimeout, control.earliest) }

    /// When the sender next has work for `receiver`; nil only once it has an outcome. (The
    /// simulation checks after every step that no unfinished receiver lacks one.)
    public func deadline(of receiver: Int) -> Instant? {
        Instant.earliest(engine.deadline(of: receiver), control.deadline(of: receiver))
    }

    /// Offers the file to every receiver.
    public mutating func start(now: Instant) {
        for receiver in phases.indices { start(receiver: receiver, now: now) }
        if phases.isEmpty { remaining = 0 }
    }

    /// Offers the file to `receiver`, if not done yet (its authenticated session came up).
    public mutating func start(receiver: Int, now: Instant) {
        guard phases.indices.contains(receiver), case .waiting = phases[receiver] else { return }
        offer(to: receiver, now: now)
    }

    /// Ends `receiver` before its offer: no session to it came up.
    public mutating func abandon(receiver: Int, reason: String, now: Instant) {
        guard phases.indices.contains(receiver) else { return }
        finish(receiver, .unauthenticated(reason), now: now)
    }

    /// The authenticated session under `receiver`'s datagrams was replaced by a new one
    /// (its daemon restarted, or the link went unanswered and shook hands again): the file
    /// is offered again under a new transfer id, so the receiver resumes it under the new
    /// session whether or not it still holds the old one.
    public mutating func sessionReplaced(receiver: Int, now: Instant) {
        guard phases.indices.contains(receiver) else { return }
        switch phases[receiver] {
        case .offering, .transferring, .completing:
            if !offerAgain(receiver, now: now) {
                finish(receiver, .aborted(NativeRejection(reason: .unknownTransfer, text: "session lost too often")), now: now)
            }
            takeEngineActions(now: now)
        case .waiting, .done:
            return
        }
    }

    /// Handles one datagram from `receiver`.
    public mutating func handle(_ bytes: UnsafeRawBufferPointer, from receiver: Int, now: Instant) {
        guard phases.indices.contains(receiver), let datagram = try? NativeDatagram.decode(bytes),
            datagram.transferID == transferIDs[receiver]
        else {
            ignoredDatagrams += 1
            return
        }
        switch (datagram.packet, phases[receiver]) {
        case (.accept(let accept), .offering):
            events.append(.accepted(receiver: receiver, resumeFrom: accept.resumeFrom))
            control.set(receiver, to: nil)
            if accept.alreadyComplete {
                finish(receiver, .committed(alreadyHeld: true), now: now)
                return
            }
            phases[receiver] = .transferring
            engine.activate(receiver, from: accept.resumeFrom, now: now, into: &actions)
        case (.reject(let rejection), .offering):
            finish(receiver, .rejected(rejection), now: now)
        case (.ack(let ack), .transferring):
            engine.handleAcknowledgement(
                from: receiver,
                Acknowledgement(
                    cumulative: ack.cumulative, selective: ack.selective, window: Int(ack.window),
                    roundTripSample: Self.roundTrip(echo: ack.echoTimestamp, now: now)),
                now: now, into: &actions)
        case (.ack, .completing(var retry)):
            retry.heard(at: now)
            phases[receiver] = .completing(retry)
        case (.complete(let completion), .transferring), (.complete(let completion), .completing),
            (.complete(let completion), .offering):
            let outcome: Outcome = completion.status == .committed ? .committed(alreadyHeld: false) : .failed(completion)
            receptions[receiver] = completion.reception
            finish(receiver, outcome, now: now)
        case (.abort(let rejection), .transferring), (.abort(let rejection), .completing),
            (.abort(let rejection), .offering):
            let sessionLost = rejection.reason == .unknownTransfer || rejection.reason == .shuttingDown
            if sessionLost, case .offering = phases[receiver] {
                return  // One of many replies to DATA still in flight; the offer is out already.
            }
            if !sessionLost || !offerAgain(receiver, now: now) {
                finish(receiver, .aborted(rejection), now: now)
            }
        default:
            return  // Duplicates and packets that no longer matter.
        }
        takeEngineActions(now: now)
    }

    /// Handles every timer due at `now`.
    public mutating func handleTimeout(now: Instant) {
        engine.handleTimeout(now: now, into: &actions)
        takeEngineActions(now: now)
        while let receiver = control.popDue(now: now) {
            switch phases[receiver] {
            case .offering(var retry):
                switch retry.fire(now: now) {
                case .giveUp(let silent):
                    finish(receiver, .noAnswer(phase: .offer, after: silent), now: now)
                case .retry:
                    phases[receiver] = .offering(retry)
                    controlQueue.append((receiver, .offer))
                    control.set(receiver, to: retry.deadline)
                }
            case .completing(var retry):
                switch retry.fire(now: now) {
                case .giveUp(let silent):
                    finish(receiver, .noAnswer(phase: .completion, after: silent), now: now)
                case .retry:
                    phases[receiver] = .completing(retry)
                    controlQueue.append((receiver, .probe))
                    control.set(receiver, to: retry.deadline)
                }
            case .waiting, .transferring, .done:
                continue
            }
        }
    }

    // MARK: - Polling

    /// The next event for the application, if any.
    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// Whether `pollEvent` has something (`peekTransmit` may have asked for payload).
    public var hasEvents: Bool { !events.isEmpty }

    /// The datagram `pollTransmit` would write next (its receiver and exact size), or nil
    /// when there is none or DATA waits for payload (then `.payloadNeeded` is among the events).
    public mutating func peekTransmit() -> Transmit? {
        while let head = controlQueue.first {
            switch (head.packet, phases[head.receiver]) {
            case (.offer, .offering), (.probe, .completing):
                return Transmit(receiver: head.receiver, size: encodeControl(head.packet, for: head.receiver).count, isData: false)
            default:
                controlQueue.removeFirst()  // The receiver moved on since it was queued.
            }
        }
        while let head = dataQueue.first {
            guard head.transferID == transferIDs[head.receiver], case .transferring = phases[head.receiver] else {
                dataQueue.removeFirst()  // For a session that restarted or ended since.
                continue
            }
            let block = payload.blockIndex(ofSegment: head.segment)
            guard payload.holds(block) else {
                askForPayload(block)
                return nil
            }
            askForPayload(block + 1)  // Read ahead, so a reader off the event loop keeps up.
            return Transmit(
                receiver: head.receiver, size: NativeDatagram.dataDatagramSize(payload: payloadLength(of: head.segment)),
                isData: true)
        }
        return nil
    }

    /// Writes the next datagram at the start of `buffer` (at least the size `peekTransmit`
    /// announced, checked) and says what it was; nil when there is nothing to send now.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer, now: Instant) -> Transmit? {
        guard let next = peekTransmit() else { return nil }
        precondition(buffer.count >= next.size, "transmit buffer smaller than the datagram")
        if next.isData {
            let data = dataQueue.removeFirst()
            let written = payload.withSegment(data.segment, length: payloadLength(of: data.segment)) { bytes in
                NativeDatagram.writeData(
                    transferID: data.transferID, segment: data.segment, timestamp: Self.timestamp(now), payload: bytes,
                    to: buffer)
            }
            assert(written == next.size, "peekTransmit promised a held block")
        } else {
            let head = controlQueue.removeFirst()
            encodeControl(head.packet, for: head.receiver).withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
        return next
    }

    /// Hands in the bytes of a block asked for with `.payloadNeeded`: `fill` writes its
    /// `block.length` bytes straight into the machine's buffer (one copy, from the file).
    /// Blocks never asked for are ignored. When `fill` throws (the file shrank or vanished),
    /// every receiver still unfinished fails with the error.
    public mutating func supplyPayload(
        _ block: PayloadBlock, now: Instant, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) {
        do {
            _ = try payload.supply(block, fill: fill)
        } catch {
            for receiver in phases.indices {
                if case .done = phases[receiver] { continue }
                finish(receiver, .sourceFailed("\(error)"), now: now)
            }
        }
    }

    // MARK: - Internals

    private mutating func askForPayload(_ block: UInt64) {
        if payload.request(block) { events.append(.payloadNeeded(payload.block(block))) }
    }

    /// Offers the file again under a new transfer id, unless `receiver` was offered it
    /// `maximumReoffers` times already (then false).
    private mutating func offerAgain(_ receiver: Int, now: Instant) -> Bool {
        guard reoffers[receiver] < configuration.maximumReoffers else { return false }
        reoffers[receiver] += 1
        engine.suspend(receiver)
        transferIDs[receiver] = Self.mix(transferIDs[receiver])
        offer(to: receiver, now: now)
        return true
    }

    private mutating func offer(to receiver: Int, now: Instant) {
        let retry = RequestRetry(now: now, giveUpAfter: configuration.giveUpAfter)
        phases[receiver] = .offering(retry)
        controlQueue.append((receiver, .offer))
        control.set(receiver, to: retry.deadline)
    }

    private mutating func finish(_ receiver: Int, _ outcome: Outcome, now: Instant) {
        if case .done = phases[receiver] { return }
        phases[receiver] = .done(outcome)
        control.set(receiver, to: nil)
        remaining -= 1
        engine.abandon(receiver, reason: .noProgress(.zero), now: now, into: &actions)
        events.append(.finished(receiver: receiver, outcome))
    }

    /// Turns what the engine appended into transmissions and events.
    private mutating func takeEngineActions(now: Instant) {
        for action in actions {
            switch action {
            case .transmit(let receiver, let segment, _):
                dataQueue.append(DataTransmission(receiver: receiver, transferID: transferIDs[receiver], segment: segment))
            case .timedOut(let receiver, let segment):
                events.append(.timedOut(receiver: receiver, segment: segment))
            case .lossDetected(let receiver, let count):
                events.append(.lossDetected(receiver: receiver, count: count))
            case .completed(let receiver):
                guard case .transferring = phases[receiver] else { continue }
                // Every segment is acknowledged; the receiver verifies and commits.
                let retry = RequestRetry(
                    now: now, giveUpAfter: configuration.giveUpAfter, roundTrip: engine.statistics(of: receiver).smoothedRTT)
                phases[receiver] = .completing(retry)
                control.set(receiver, to: retry.deadline)
            case .failed(let receiver, .noProgress(let stalled)):
                // The engine already dropped it, so `finish` adds no action.
                finish(receiver, .noAnswer(phase: .data, after: stalled), now: now)
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    private func payloadLength(of segment: UInt64) -> Int {
        let offset = segment * UInt64(configuration.segmentSize)
        return Int(min(UInt64(configuration.segmentSize), fileSize - min(offset, fileSize)))
    }

    private func encodeControl(_ packet: Control, for receiver: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        let body: NativePacket = packet == .offer ? .offer(offer) : .probe
        NativeDatagram(transferID: transferIDs[receiver], packet: body).encode(into: &bytes)
        return bytes
    }

    /// SplitMix64's finalizer: distinct, unpredictable-looking ids from a seed.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The sender's DATA timestamp: microseconds of the monotonic clock, wrapping at 2^32.
    static func timestamp(_ now: Instant) -> UInt32 {
        UInt32(truncatingIfNeeded: now.nanoseconds / 1_000)
    }

    /// The round trip an echoed timestamp measures, when plausible (under a minute).
    static func roundTrip(echo: UInt32, now: Instant) -> Duration? {
        let elapsed = timestamp(now) &- echo
        guard elapsed < 60_000_000 else { return nil }
        return .microseconds(Int64(elapsed))
    }
}
