import DequeModule
import P2MPWire

/// `p2mpsend get` as a machine: GET requests, each repeated with `RequestRetry` until the
/// daemon answers it with an OFFER (or a RESULT refusing it), and the receiving side of the
/// sessions the daemon opens — a push with the roles reversed, through a
/// `NativeReceiverEndpoint`.
///
/// The machine contract (docs/ARCHITECTURE.md). Storage is the application's: it answers
/// `.offered` with `admit` or `storageFailed`, writes what `.received` names (a range of the
/// datagram just handled: poll before the next `handle`), and answers `.allReceived` with
/// `finalized`. After the last result the machine lingers briefly, so that a COMPLETE the
/// daemon missed can be repeated, then reports `isFinished`.
public struct FetchClient: Sendable {
    public enum Result: Sendable, Equatable {
        case fetched(bytes: UInt64)
        case failed(String)
    }

    public enum Event: Sendable, Equatable {
        /// The file is coming: prepare room for `offer.fileSize` bytes, then call `admit` or
        /// `storageFailed`.
        case offered(request: Int, offer: NativeOffer)
        /// Write `payload` (a range of the datagram just handled) at `offset`; with it the
        /// file is complete from its start up to `contiguous` bytes.
        case received(request: Int, offset: UInt64, payload: Range<Int>, contiguous: UInt64)
        /// Every byte is there: compare the content's SHA-256 with the offer's, then call
        /// `finalized`.
        case allReceived(request: Int)
        case finished(request: Int, Result)
    }

    /// A datagram `pollTransmit` wrote.
    public struct Transmit: Sendable, Equatable {
        public var size: Int
    }

    private struct Request: Sendable {
        var name: String
        var requestID: UInt64
        var retry: RequestRetry?
        var transferID: UInt64?
        var offer: NativeOffer?
        var result: Result?
    }

    public let giveUpAfter: Duration
    public let linger: Duration
    private var requests: [Request]
    private var retries: DeadlineQueue
    private var endpoint: NativeReceiverEndpoint<Int>
    private var events = Deque<Event>()
    private var requestsToSend = Deque<Int>()
    private var unfinished: Int
    private var lastResultAt: Instant?
    public private(set) var isFinished = false

    /// One GET per name, under the matching unpredictable request id.
    public init(names: [String], requestIDs: [UInt64], giveUpAfter: Duration, linger: Duration = .milliseconds(300)) {
        precondition(names.count == requestIDs.count, "one request id per name")
        self.giveUpAfter = giveUpAfter
        self.linger = linger
        requests = zip(names, requestIDs).map { Request(name: $0, requestID: $1) }
        retries = DeadlineQueue(keys: names.count)
        endpoint = NativeReceiverEndpoint(configuration: .init(maximumSessions: max(1, names.count), linger: .seconds(2)))
        unfinished = names.count
    }

    /// The result of each request, in order.
    public var results: [Result?] { requests.map(\.result) }

    /// The OFFER that answered `request`, once one did.
    public func offer(of request: Int) -> NativeOffer? { requests[request].offer }

    public var nextTimeout: Instant? {
        Instant.earliest(Instant.earliest(retries.earliest, endpoint.nextTimeout), lastResultAt.map { $0 + linger })
    }

    public mutating func start(now: Instant) {
        for index in requests.indices {
            let retry = RequestRetry(now: now, giveUpAfter: giveUpAfter)
            requests[index].retry = retry
            retries.set(index, to: retry.deadline)
            requestsToSend.append(index)
        }
        if requests.isEmpty { isFinished = true }
    }

    /// Handles a datagram from the daemon.
    public mutating func handle(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        if let decoded = try? NativeDatagram.decode(bytes), case .result(let refusal) = decoded.packet {
            if let index = requests.firstIndex(where: {
                $0.requestID == decoded.transferID && $0.transferID == nil && $0.result == nil
            }) {
                finish(index, .failed("\(refusal.status): \(refusal.explanation)"), now: now)
            }
            return
        }
        endpoint.handle(bytes, from: 0, now: now)
        takeEndpointEvents(now: now)
    }

    public mutating func handleTimeout(now: Instant) {
        if let last = lastResultAt, unfinished == 0, now >= last + linger { isFinished = true }
        endpoint.handleTimeout(now: now)
        takeEndpointEvents(now: now)
        while let index = retries.popDue(now: now) {
            guard requests[index].result == nil, requests[index].transferID == nil, var retry = requests[index].retry
            else { continue }
            switch retry.fire(now: now) {
            case .giveUp(let silent):
                finish(index, .failed("no answer for \(silent)"), now: now)
            case .retry:
                requests[index].retry = retry
                retries.set(index, to: retry.deadline)
                requestsToSend.append(index)
            }
        }
    }

    /// Storage for the offered file of `request` is ready.
    public mutating func admit(_ request: Int, now: Instant) {
        guard let id = requests[request].transferID, requests[request].result == nil else { return }
        endpoint.admit(id, resumeFrom: 0, alreadyComplete: false, now: now)
        takeEndpointEvents(now: now)
    }

    /// Storage for `request` failed (it could not be created, written or committed).
    public mutating func storageFailed(_ request: Int, reason: String, now: Instant) {
        guard requests[request].result == nil else { return }
        if let id = requests[request].transferID {
            endpoint.refuse(id, NativeRejection(reason: .internalError, text: reason))
            endpoint.failStorage(id, reason: reason, now: now)
        }
        finish(request, .failed(reason), now: now)
    }

    /// The content of `request` was checked against the offer's SHA-256: committed, or not.
    public mutating func finalized(_ request: Int, digestMatched: Bool, now: Instant) {
        guard let id = requests[request].transferID, let offer = requests[request].offer, requests[request].result == nil
        else { return }
        let completion = NativeCompletion(status: digestMatched ? .committed : .digestMismatch, sha256: digestMatched ? offer.sha256 : .zero)
        endpoint.finalized(id, completion, now: now)
        finish(request, digestMatched ? .fetched(bytes: offer.fileSize) : .failed("SHA-256 mismatch"), now: now)
    }

    public mutating func pollEvent() -> Event? { events.popFirst() }

    /// The largest datagram the client sends: a GET with the longest name, or the
    /// endpoint's largest reply.
    public static let maximumTransmitSize = max(
        NativeDatagram.minimumSize + 2 + NativeDatagram.maximumNameLength, NativeReceiverEndpoint<Int>.maximumTransmitSize)

    /// Whether a datagram is due, announced with `maximumTransmitSize`.
    public mutating func peekTransmit() -> Transmit? {
        while let index = requestsToSend.first {
            if requests[index].result == nil, requests[index].transferID == nil {
                return Transmit(size: Self.maximumTransmitSize)
            }
            requestsToSend.removeFirst()
        }
        return endpoint.peekTransmit().map { _ in Transmit(size: Self.maximumTransmitSize) }
    }

    /// Writes the next datagram (a GET, an ACK or a COMPLETE) at the start of `buffer`, at
    /// least `maximumTransmitSize` bytes (checked), and says how long it is.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        while let index = requestsToSend.popFirst() {
            guard requests[index].result == nil, requests[index].transferID == nil else { continue }
            var bytes: [UInt8] = []
            NativeDatagram(transferID: requests[index].requestID, packet: .get(name: requests[index].name)).encode(into: &bytes)
            precondition(buffer.count >= bytes.count, "transmit buffer too small")
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return Transmit(size: bytes.count)
        }
        return endpoint.pollTransmit(into: buffer).map { Transmit(size: $0.size) }
    }

    // MARK: - Internals

    private mutating func takeEndpointEvents(now: Instant) {
        while let event = endpoint.pollEvent() {
            switch event {
            case .offered(let id, _, let offer):
                // An OFFER answers the request whose name it carries.
                guard let index = requests.firstIndex(where: {
                    $0.name == offer.name && $0.transferID == nil && $0.result == nil
                }) else {
                    endpoint.refuse(id, NativeRejection(reason: .malformedOffer, text: "not asked for"))
                    continue
                }
                requests[index].transferID = id
                requests[index].offer = offer
                requests[index].retry = nil
                retries.set(index, to: nil)
                events.append(.offered(request: index, offer: offer))
            case .received(let id, let offset, let payload, let contiguous):
                if let index = request(of: id) {
                    events.append(.received(request: index, offset: offset, payload: payload, contiguous: contiguous))
                }
            case .allReceived(let id):
                if let index = request(of: id) { events.append(.allReceived(request: index)) }
            case .ended(let id, let reason, _):
                if let index = request(of: id) { finish(index, .failed("transfer ended: \(reason)"), now: now) }
            case .duplicate, .query:
                continue
            }
        }
    }

    private func request(of transferID: UInt64) -> Int? {
        requests.firstIndex { $0.transferID == transferID && $0.result == nil }
    }

    private mutating func finish(_ index: Int, _ result: Result, now: Instant) {
        guard requests[index].result == nil else { return }
        requests[index].result = result
        requests[index].retry = nil
        retries.set(index, to: nil)
        unfinished -= 1
        if unfinished == 0 { lastResultAt = now }
        events.append(.finished(request: index, result))
    }
}
