import P2MPWire

/// The sending side of the native protocol: one file pushed to many receivers, each
/// independent of the others.
///
/// Per receiver: OFFER (repeated with backoff until ACCEPT or REJECT), data through the
/// shared `SenderEngine` from the receiver's resume point, then waiting for COMPLETE
/// (PROBE with backoff). A receiver that lost its session (ABORT unknownTransfer or
/// shuttingDown) is offered the file again and resumes. A receiver silent for
/// `giveUpAfter` in any phase is reported failed; the others go on.
public struct NativeSender<Source: SegmentSource> {
    public struct Configuration: Sendable {
        /// Seeds the transfer ids: each receiver session gets its own id derived from it,
        /// and a fresh one when it is offered the file again, so packets of an earlier
        /// incarnation of a session can never be mistaken for the current one.
        public var transferID: UInt64
        public var name: String
        public var sha256: SHA256Digest
        public var segmentSize: Int
        public var window: Int
        public var replaceExisting: Bool
        public var giveUpAfter: Duration
        /// Cap on the total send rate over all receivers, bytes per second.
        public var rateLimit: UInt64?
        /// How often a receiver may lose its session and be offered the file again: a
        /// safety bound against a receiver that aborts forever, far above real restarts.
        public var maximumReoffers: Int

        public init(
            transferID: UInt64, name: String, sha256: SHA256Digest, segmentSize: Int = 1_400, window: Int = 4_096,
            replaceExisting: Bool = false, giveUpAfter: Duration = .seconds(30), rateLimit: UInt64? = nil,
            maximumReoffers: Int = 1_000
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
        }
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
        /// Silence for the give-up time; `phase` is offer, data or completion.
        case noAnswer(phase: String, after: Duration)
    }

    /// One DATA datagram to send, encoded by the caller with `writeData(_:to:)` straight
    /// into its socket buffer (so a burst of them can leave in one system call).
    public struct DataTransmission: Sendable {
        public var receiver: Int
        public var transferID: UInt64
        public var segment: UInt64
        public var timestamp: UInt32
    }

    public enum Output: Sendable {
        /// A control datagram (OFFER, PROBE), encoded.
        case send(receiver: Int, bytes: [UInt8])
        case sendData(DataTransmission)
        case accepted(receiver: Int, resumeFrom: UInt64)
        case timedOut(receiver: Int, segment: UInt64)
        case lossDetected(receiver: Int, count: Int)
        case finished(receiver: Int, Outcome)
    }

    private enum Phase: Sendable {
        case offering(since: Instant, estimator: RTTEstimator)
        case transferring
        case completing(lastHeard: Instant, estimator: RTTEstimator)
        case done(Outcome)
    }

    public let configuration: Configuration
    public let fileSize: UInt64
    public let segmentCount: UInt64
    public private(set) var engine: SenderEngine
    /// Datagrams that were not for this transfer or did not decode.
    public private(set) var ignoredDatagrams = 0
    private let source: Source
    private var phases: [Phase]
    private var reoffers: [Int]
    private var control: DeadlineQueue
    private var actions: [SenderEngine.Action] = []
    private var blockCache: BlockCache
    private let offer: NativeOffer
    /// The current transfer id of each receiver's session.
    public private(set) var transferIDs: [UInt64]
    private var remaining: Int

    public init(source: Source, receiverCount: Int, configuration: Configuration) {
        self.source = source
        self.configuration = configuration
        fileSize = source.byteCount
        let size = UInt64(max(1, configuration.segmentSize))
        segmentCount = fileSize / size + (fileSize % size == 0 ? 0 : 1)
        engine = SenderEngine(
            receiverCount: receiverCount, segmentCount: segmentCount,
            configuration: SenderConfiguration(
                window: configuration.window, groupPolicy: .independent, retransmissionTimeout: .adaptive(.standard),
                giveUpAfter: configuration.giveUpAfter, congestionControl: .aimd,
                segmentBytes: configuration.segmentSize + NativeDatagram.dataHeaderSize + NativeDatagram.checksumSize + 28,
                rateLimit: configuration.rateLimit))
        phases = Array(repeating: .done(.noAnswer(phase: "offer", after: .zero)), count: receiverCount)
        reoffers = Array(repeating: 0, count: receiverCount)
        control = DeadlineQueue(keys: receiverCount)
        blockCache = BlockCache(segmentSize: Int(size))
        offer = NativeOffer(
            segmentSize: UInt32(size), fileSize: fileSize, sha256: configuration.sha256,
            window: UInt32(configuration.window),
            flags: configuration.replaceExisting ? .replaceExisting : [], name: configuration.name)
        transferIDs = (0..<receiverCount).map { Self.mix(configuration.transferID &+ UInt64($0)) }
        remaining = receiverCount
    }

    public var isFinished: Bool { remaining == 0 }

    /// The outcome of `receiver`, once it is done.
    public func outcome(of receiver: Int) -> Outcome? {
        if case .done(let outcome) = phases[receiver] { outcome } else { nil }
    }

    public mutating func nextDeadline() -> Instant? {
        Self.earliest(engine.nextDeadline(), control.earliest())
    }

    /// When the sender next has work for `receiver`; nil only once it has an outcome. (The
    /// simulation checks after every step that no unfinished receiver lacks one.)
    public func deadline(of receiver: Int) -> Instant? {
        Self.earliest(engine.deadline(of: receiver), control.deadline(of: receiver))
    }

    private static func earliest(_ first: Instant?, _ second: Instant?) -> Instant? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    /// Offers the file to every receiver.
    public mutating func start(now: Instant, into outputs: inout [Output]) {
        for receiver in phases.indices { offer(to: receiver, now: now, into: &outputs) }
        if phases.isEmpty { remaining = 0 }
    }

    public mutating func receive(
        _ bytes: UnsafeRawBufferPointer, from receiver: Int, now: Instant, into outputs: inout [Output]
    ) {
        guard phases.indices.contains(receiver), let datagram = try? NativeDatagram.decode(bytes),
            datagram.transferID == transferIDs[receiver]
        else {
            ignoredDatagrams += 1
            return
        }
        switch (datagram.packet, phases[receiver]) {
        case (.accept(let accept), .offering):
            outputs.append(.accepted(receiver: receiver, resumeFrom: accept.resumeFrom))
            control.set(receiver, to: nil)
            if accept.alreadyComplete {
                finish(receiver, .committed(alreadyHeld: true), now: now, into: &outputs)
                return
            }
            phases[receiver] = .transferring
            engine.activate(receiver, from: accept.resumeFrom, now: now, into: &actions)
        case (.reject(let rejection), .offering):
            finish(receiver, .rejected(rejection), now: now, into: &outputs)
        case (.ack(let ack), .transferring):
            engine.handleAcknowledgement(
                from: receiver,
                Acknowledgement(
                    cumulative: ack.cumulative, selective: ack.selective, window: Int(ack.window),
                    roundTripSample: Self.roundTrip(echo: ack.echoTimestamp, now: now)),
                now: now, into: &actions)
        case (.ack, .completing(_, let estimator)):
            phases[receiver] = .completing(lastHeard: now, estimator: estimator)
        case (.complete(let completion), .transferring), (.complete(let completion), .completing),
            (.complete(let completion), .offering):
            finish(receiver, completion.status == .committed ? .committed(alreadyHeld: false) : .failed(completion), now: now, into: &outputs)
        case (.abort(let rejection), .transferring), (.abort(let rejection), .completing),
            (.abort(let rejection), .offering):
            let sessionLost = rejection.reason == .unknownTransfer || rejection.reason == .shuttingDown
            if sessionLost, case .offering = phases[receiver] {
                return  // One of many replies to DATA still in flight; the offer is out already.
            }
            if sessionLost, reoffers[receiver] < configuration.maximumReoffers {
                reoffers[receiver] += 1
                engine.suspend(receiver)
                transferIDs[receiver] = Self.mix(transferIDs[receiver])
                offer(to: receiver, now: now, into: &outputs)
            } else {
                finish(receiver, .aborted(rejection), now: now, into: &outputs)
            }
        default:
            return  // Duplicates and packets that no longer matter.
        }
        translateActions(now: now, into: &outputs)
    }

    public mutating func handleTimer(now: Instant, into outputs: inout [Output]) {
        engine.handleTimer(now: now, into: &actions)
        translateActions(now: now, into: &outputs)
        while let receiver = control.popDue(now: now) {
            switch phases[receiver] {
            case .offering(let since, var estimator):
                let waited = now.duration(since: since)
                if waited >= configuration.giveUpAfter {
                    finish(receiver, .noAnswer(phase: "offer", after: waited), now: now, into: &outputs)
                    continue
                }
                estimator.backOff()
                phases[receiver] = .offering(since: since, estimator: estimator)
                outputs.append(.send(receiver: receiver, bytes: encode(.offer(offer), for: receiver)))
                control.set(receiver, to: now + estimator.timeout)
            case .completing(let lastHeard, var estimator):
                let waited = now.duration(since: lastHeard)
                if waited >= configuration.giveUpAfter {
                    finish(receiver, .noAnswer(phase: "completion", after: waited), now: now, into: &outputs)
                    continue
                }
                estimator.backOff()
                phases[receiver] = .completing(lastHeard: lastHeard, estimator: estimator)
                outputs.append(.send(receiver: receiver, bytes: encode(.probe, for: receiver)))
                control.set(receiver, to: now + estimator.timeout)
            case .transferring, .done:
                continue
            }
        }
    }

    // MARK: - Internals

    private mutating func offer(to receiver: Int, now: Instant, into outputs: inout [Output]) {
        // (The offer's content is the same for every receiver; only the session id differs.)
        let estimator = RTTEstimator(bounds: .standard)
        phases[receiver] = .offering(since: now, estimator: estimator)
        outputs.append(.send(receiver: receiver, bytes: encode(.offer(offer), for: receiver)))
        control.set(receiver, to: now + estimator.timeout)
    }

    private mutating func finish(_ receiver: Int, _ outcome: Outcome, now: Instant, into outputs: inout [Output]) {
        if case .done = phases[receiver] { return }
        phases[receiver] = .done(outcome)
        control.set(receiver, to: nil)
        remaining -= 1
        // The engine's own failure report is redundant with `outcome`; with independent
        // receivers abandoning one adds no other action.
        let reported = actions.count
        engine.abandon(receiver, reason: .noProgress(.zero), now: now, into: &actions)
        actions.removeSubrange(reported...)
        outputs.append(.finished(receiver: receiver, outcome))
    }

    private mutating func translateActions(now: Instant, into outputs: inout [Output]) {
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .transmit(let receiver, let segment, _):
                outputs.append(
                    .sendData(
                        DataTransmission(
                            receiver: receiver, transferID: transferIDs[receiver], segment: segment,
                            timestamp: Self.timestamp(now))))
            case .timedOut(let receiver, let segment):
                outputs.append(.timedOut(receiver: receiver, segment: segment))
            case .lossDetected(let receiver, let count):
                outputs.append(.lossDetected(receiver: receiver, count: count))
            case .completed(let receiver):
                guard case .transferring = phases[receiver] else { continue }
                // Every segment is acknowledged; the receiver verifies and commits.
                var estimator = RTTEstimator(bounds: .standard)
                if let rtt = engine.statistics(of: receiver).smoothedRTT { estimator.addSample(rtt) }
                phases[receiver] = .completing(lastHeard: now, estimator: estimator)
                control.set(receiver, to: now + estimator.timeout)
            case .failed(let receiver, .noProgress(let stalled)):
                finish(receiver, .noAnswer(phase: "data", after: stalled), now: now, into: &outputs)
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    /// The size of `transmission`'s datagram.
    public func datagramSize(of transmission: DataTransmission) -> Int {
        NativeDatagram.dataDatagramSize(payload: payloadLength(of: transmission.segment))
    }

    /// Writes `transmission`'s DATA datagram at the start of `destination` (at least
    /// `datagramSize(of:)` bytes) and returns its size. Reads the file through a small block
    /// cache, so a burst to many receivers reads each byte once.
    public mutating func writeData(
        _ transmission: DataTransmission, to destination: UnsafeMutableRawBufferPointer
    ) throws -> Int {
        let length = payloadLength(of: transmission.segment)
        let write = { (payload: UnsafeRawBufferPointer) in
            NativeDatagram.writeData(
                transferID: transmission.transferID, segment: transmission.segment,
                timestamp: transmission.timestamp, payload: payload, to: destination)
        }
        guard length > 0 else { return write(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try blockCache.withBytes(
            at: transmission.segment * UInt64(configuration.segmentSize), length: length, from: source, write)
    }

    /// `transmission`'s DATA datagram as a new array (for simulations and tests).
    public mutating func dataDatagram(_ transmission: DataTransmission) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: datagramSize(of: transmission))
        _ = try bytes.withUnsafeMutableBytes { try writeData(transmission, to: $0) }
        return bytes
    }

    private func payloadLength(of segment: UInt64) -> Int {
        let offset = segment * UInt64(configuration.segmentSize)
        return Int(min(UInt64(configuration.segmentSize), fileSize - min(offset, fileSize)))
    }

    private func encode(_ packet: NativePacket, for receiver: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: transferIDs[receiver], packet: packet).encode(into: &bytes)
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

/// Recently read blocks of the file, so each byte is read once however many receivers
/// need it (as long as they are within a few MiB of each other) and a segment costs a
/// memory copy, not a system call. A block holds whole segments, so no segment spans two.
struct BlockCache {
    private static let targetBlockBytes = 256 << 10
    private static let blockCount = 16
    private var blocks: [(index: UInt64, bytes: [UInt8], used: UInt64)] = []
    private let blockBytes: Int
    private var clock: UInt64 = 0

    init(segmentSize: Int) {
        blockBytes = max(1, Self.targetBlockBytes / segmentSize) * segmentSize
    }

    /// Calls `body` with the `length` bytes at `offset` (within one segment).
    mutating func withBytes<Source: SegmentSource, Result>(
        at offset: UInt64, length: Int, from source: Source, _ body: (UnsafeRawBufferPointer) -> Result
    ) throws -> Result {
        let index = offset / UInt64(blockBytes)
        let start = Int(offset - index * UInt64(blockBytes))
        clock += 1
        let slot: Int
        if let found = blocks.firstIndex(where: { $0.index == index }) {
            slot = found
        } else {
            let blockStart = index * UInt64(blockBytes)
            var bytes = [UInt8](repeating: 0, count: Int(min(UInt64(blockBytes), source.byteCount - blockStart)))
            try bytes.withUnsafeMutableBytes { try source.read(offset: blockStart, into: $0) }
            if blocks.count < Self.blockCount {
                blocks.append((index, bytes, clock))
                slot = blocks.count - 1
            } else {
                slot = blocks.indices.min { blocks[$0].used < blocks[$1].used }!
                blocks[slot] = (index, bytes, clock)
            }
        }
        blocks[slot].used = clock
        return blocks[slot].bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
    }
}
