import DequeModule
import P2MPWire

/// `p2mpsend ls`, `mv`, `rm` and `status` as a machine: one request to each target, repeated
/// with `RequestRetry` until it answers or falls silent for the give-up time; listings and
/// status reports are fetched page by page, each page a request of its own.
///
/// The machine contract (docs/ARCHITECTURE.md): `start`, `handle`, `handleTimeout`, then
/// drain `pollTransmit` and `pollEvent`; arm a timer for `nextTimeout`.
public struct FleetQueryClient: Sendable {
    public enum Request: Sendable, Equatable {
        case list
        case move(from: String, to: String)
        case remove(name: String)
        case status
    }

    /// One target's answer.
    public enum Answer: Sendable, Equatable {
        case listing([NativeListing.Entry])
        /// Every page's transfers, under the first page's summary.
        case status(NativeStatusReport)
        case result(NativeResult)
        /// Nothing came back for the give-up time.
        case noAnswer(after: Duration)
        /// No authenticated session to the target came up; why.
        case unauthenticated(String)
    }

    public enum Event: Sendable, Equatable {
        case answered(target: Int, Answer)
    }

    /// A datagram `pollTransmit` wrote.
    public struct Transmit: Sendable, Equatable {
        public var target: Int
        public var size: Int
    }

    private struct Pending: Sendable {
        var requestID: UInt64
        var cursor: UInt32 = 0
        var entries: [NativeListing.Entry] = []
        var report: NativeStatusReport?
        var retry: RequestRetry?
        var answer: Answer?
    }

    public let request: Request
    public let giveUpAfter: Duration
    private var pending: [Pending]
    private var deadlines: DeadlineQueue
    private var events = Deque<Event>()
    private var sends = Deque<Int>()
    private var unanswered: Int

    /// A query of `request` to as many targets as `requestIDs` has ids (one per target,
    /// unpredictable, so that answers cannot be forged blind).
    public init(request: Request, requestIDs: [UInt64], giveUpAfter: Duration) {
        self.request = request
        self.giveUpAfter = giveUpAfter
        pending = requestIDs.map { Pending(requestID: $0) }
        deadlines = DeadlineQueue(keys: requestIDs.count)
        unanswered = requestIDs.count
    }

    public var isFinished: Bool { unanswered == 0 }

    /// Every target's answer, in order, once `isFinished`.
    public var answers: [Answer?] { pending.map(\.answer) }

    public var nextTimeout: Instant? { deadlines.earliest }

    /// Sends the request to every target.
    public mutating func start(now: Instant) {
        for target in pending.indices { start(target: target, now: now) }
    }

    /// Sends the request to `target` (once: its authenticated session came up).
    public mutating func start(target: Int, now: Instant) {
        guard pending.indices.contains(target), pending[target].answer == nil, pending[target].retry == nil else { return }
        send(to: target, now: now, fresh: true)
    }

    /// Ends `target` with `answer` without asking it: no session to it came up
    /// (`.unauthenticated`, or `.noAnswer` when the handshake went unanswered).
    public mutating func abandon(target: Int, answer: Answer) {
        guard pending.indices.contains(target), pending[target].answer == nil else { return }
        self.answer(target, answer)
    }

    /// Handles a datagram from `target`; anything but the answer to its current request is ignored.
    public mutating func handle(_ bytes: UnsafeRawBufferPointer, from target: Int, now: Instant) {
        guard pending.indices.contains(target), pending[target].answer == nil,
            let decoded = try? NativeDatagram.decode(bytes), decoded.transferID == pending[target].requestID
        else { return }
        switch decoded.packet {
        case .listing(let page) where request == .list && page.cursor == pending[target].cursor:
            pending[target].entries += page.entries
            if turnPage(target, by: page.entries.count, of: page.total, now: now) {
                answer(target, .listing(pending[target].entries))
            }
        case .report(let page) where request == .status && page.cursor == pending[target].cursor:
            if pending[target].report == nil {
                pending[target].report = NativeStatusReport(summary: page.summary, total: page.total, cursor: 0, transfers: [])
            }
            pending[target].report?.transfers += page.transfers
            if turnPage(target, by: page.transfers.count, of: page.total, now: now), let report = pending[target].report {
                answer(target, .status(report))
            }
        case .result(let result):
            answer(target, .result(result))
        default:
            return
        }
    }

    public mutating func handleTimeout(now: Instant) {
        while let target = deadlines.popDue(now: now) {
            guard pending[target].answer == nil, var retry = pending[target].retry else { continue }
            switch retry.fire(now: now) {
            case .giveUp(let silent):
                answer(target, .noAnswer(after: silent))
            case .retry:
                pending[target].retry = retry
                sends.append(target)
                deadlines.set(target, to: retry.deadline)
            }
        }
    }

    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// The largest request: `mv` carries two names of up to 4,096 bytes.
    public static let maximumTransmitSize = NativeDatagram.minimumSize + 2 * (2 + NativeDatagram.maximumNameLength)

    /// The target of the next request, and `maximumTransmitSize`; nil when none is due.
    public mutating func peekTransmit() -> Transmit? {
        while let target = sends.first {
            if pending[target].answer == nil { return Transmit(target: target, size: Self.maximumTransmitSize) }
            sends.removeFirst()
        }
        return nil
    }

    /// Writes the next request at the start of `buffer` (at least `maximumTransmitSize`
    /// bytes, checked) and says how long it is.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        while let target = sends.popFirst() {
            guard pending[target].answer == nil else { continue }
            var bytes: [UInt8] = []
            NativeDatagram(transferID: pending[target].requestID, packet: packet(for: target)).encode(into: &bytes)
            precondition(buffer.count >= bytes.count, "transmit buffer too small")
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return Transmit(target: target, size: bytes.count)
        }
        return nil
    }

    // MARK: - Internals

    /// Sends the target's current request; a new page keeps the round-trip estimate and
    /// counts the page that came as hearing from the target.
    private mutating func send(to target: Int, now: Instant, fresh: Bool) {
        let roundTrip = fresh ? nil : pending[target].retry?.roundTrip(answeredAt: now)
        let retry = RequestRetry(now: now, giveUpAfter: giveUpAfter, roundTrip: roundTrip)
        pending[target].retry = retry
        deadlines.set(target, to: retry.deadline)
        sends.append(target)
    }

    /// Moves `target`'s cursor past a page of `count` items of `total`: true when that was
    /// the last page, else asks for the next.
    private mutating func turnPage(_ target: Int, by count: Int, of total: UInt32, now: Instant) -> Bool {
        pending[target].cursor &+= UInt32(clamping: count)
        guard pending[target].cursor < total, count > 0 else { return true }
        send(to: target, now: now, fresh: false)
        return false
    }

    private func packet(for target: Int) -> NativePacket {
        switch request {
        case .list: .list(cursor: pending[target].cursor)
        case .move(let from, let to): .move(from: from, to: to)
        case .remove(let name): .remove(name: name)
        case .status: .status(cursor: pending[target].cursor)
        }
    }

    private mutating func answer(_ target: Int, _ answer: Answer) {
        pending[target].answer = answer
        pending[target].retry = nil
        deadlines.set(target, to: nil)
        unanswered -= 1
        events.append(.answered(target: target, answer))
    }
}
