import HeapModule
import P2MPProtocol
import P2MPWire

/// Flows of different congestion controllers through one bottleneck, in virtual time: each
/// a `SenderEngine` with one receiver (a `NativeReceiveWindow`, acknowledging every datagram
/// with the timestamp echo and SACK ranges of the native format), all passing the same
/// `Bottleneck`, then the path's delay and random loss. Segments carry no bytes, so long
/// transfers at WAN rates simulate in a moment. `aimd` stands in for a loss-based TCP
/// (CUBIC backs off to 0.7 as it does), `modelBased` for a BBR-style one.
public enum CompetingFlows {
    public struct Flow: Sendable {
        public var congestionControl: CongestionControl
        /// When the flow starts, and how many segments it sends.
        public var start: Duration
        public var segments: UInt64

        public init(_ congestionControl: CongestionControl, start: Duration = .zero, segments: UInt64) {
            self.congestionControl = congestionControl
            self.start = start
            self.segments = segments
        }
    }

    public struct Scenario: Sendable {
        public var flows: [Flow]
        public var bytesPerSecond: Double
        public var buffer: Duration
        public var rtt: Duration
        public var loss: Double
        /// Bytes of each datagram on the link.
        public var segmentBytes: Int
        public var seed: UInt64
        public var timeLimit: Duration

        public init(
            flows: [Flow], bytesPerSecond: Double, buffer: Duration, rtt: Duration, loss: Double = 0,
            segmentBytes: Int = 1_456, seed: UInt64 = 1, timeLimit: Duration = .seconds(120)
        ) {
            self.flows = flows
            self.bytesPerSecond = bytesPerSecond
            self.buffer = buffer
            self.rtt = rtt
            self.loss = loss
            self.segmentBytes = segmentBytes
            self.seed = seed
            self.timeLimit = timeLimit
        }
    }

    public struct Result: Sendable {
        /// Every 100 ms, the segments each flow had delivered (cumulatively acknowledged).
        public var delivered: [(at: Instant, segments: [UInt64])]
        /// When each flow had everything acknowledged.
        public var finishedAt: [Instant?]
        public var bottleneck: Bottleneck

        /// Each flow's share of what all of them delivered between `start` and `end`.
        public func shares(from start: Duration, to end: Duration) -> [Double] {
            guard let first = delivered.last(where: { $0.at <= .zero + start }),
                let last = delivered.last(where: { $0.at <= .zero + end })
            else { return [] }
            let counts = zip(first.segments, last.segments).map { Double($1 - $0) }
            let total = counts.reduce(0, +)
            return counts.map { total > 0 ? $0 / total : 0 }
        }
    }

    private enum Event: Comparable {
        case data(flow: Int, segment: UInt64, sentAt: Instant)
        case ack(flow: Int, cumulative: UInt64, selective: SACKRanges, echo: Instant)

        // Deliveries at one instant keep their send order (the heap breaks ties by `order`).
        static func < (lhs: Event, rhs: Event) -> Bool { false }
    }

    private struct Pending: Comparable {
        var at: Instant
        var order: UInt64
        var event: Event
        static func < (lhs: Pending, rhs: Pending) -> Bool { (lhs.at, lhs.order) < (rhs.at, rhs.order) }
        static func == (lhs: Pending, rhs: Pending) -> Bool { lhs.order == rhs.order }
    }

    public static func run(_ scenario: Scenario) -> Result {
        var random = SeededRandom(seed: scenario.seed)
        var link = Bottleneck(
            bytesPerSecond: scenario.bytesPerSecond, bufferBytes: Int(scenario.bytesPerSecond * scenario.buffer.seconds),
            overheadBytes: 0)
        var engines = scenario.flows.map { flow in
            SenderEngine(
                receiverCount: 1, segmentCount: flow.segments,
                configuration: SenderConfiguration(
                    window: 4_096, groupPolicy: .independent, giveUpAfter: .seconds(60),
                    congestionControl: flow.congestionControl, segmentBytes: scenario.segmentBytes))
        }
        var windows = scenario.flows.map {
            NativeReceiveWindow(segmentSize: 1, fileSize: $0.segments, window: 4_096, resumeFrom: 0)
        }
        var started = Array(repeating: false, count: scenario.flows.count)
        var finishedAt: [Instant?] = Array(repeating: nil, count: scenario.flows.count)
        var queue = Heap<Pending>()
        var order: UInt64 = 0
        var now = Instant.zero
        var samples: [(at: Instant, segments: [UInt64])] = []
        var actions: [SenderEngine.Action] = []
        let oneWay = scenario.rtt / 2

        func schedule(_ event: Event, at time: Instant) {
            order += 1
            queue.insert(Pending(at: time, order: order, event: event))
        }
        func take(_ flow: Int) {
            for action in actions {
                switch action {
                case .transmit(_, let segment, _):
                    guard let leaves = link.enqueue(size: scenario.segmentBytes, now: now) else { continue }
                    if !random.chance(scenario.loss) {
                        schedule(.data(flow: flow, segment: segment, sentAt: now), at: leaves + oneWay)
                    }
                case .completed:
                    finishedAt[flow] = now
                case .timedOut, .lossDetected, .failed:
                    break
                }
            }
            actions.removeAll(keepingCapacity: true)
        }

        let deadline = Instant.zero + scenario.timeLimit
        var nextSample = Instant.zero
        while finishedAt.contains(where: { $0 == nil }) {
            var next = queue.min?.at
            for flow in engines.indices {
                if !started[flow] { next = Instant.earliest(next, .zero + scenario.flows[flow].start) }
                next = Instant.earliest(next, engines[flow].nextTimeout)
            }
            guard let next, next <= deadline else { break }
            while nextSample <= next {
                samples.append((nextSample, engines.indices.map { engines[$0].acknowledgedSegments(of: 0) }))
                nextSample = nextSample + .milliseconds(100)
            }
            now = next
            if let flow = engines.indices.first(where: { !started[$0] && .zero + scenario.flows[$0].start <= now }) {
                started[flow] = true
                engines[flow].start(now: now, into: &actions)
                take(flow)
            } else if let pending = queue.min, pending.at == now {
                _ = queue.popMin()
                switch pending.event {
                case .data(let flow, let segment, let sentAt):
                    _ = windows[flow].receive(segment: segment, length: 1, timestamp: 0)
                    let ack = windows[flow].acknowledgement()
                    schedule(.ack(flow: flow, cumulative: ack.cumulative, selective: ack.selective, echo: sentAt), at: now + oneWay)
                case .ack(let flow, let cumulative, let selective, let echo):
                    engines[flow].handleAcknowledgement(
                        from: 0,
                        Acknowledgement(
                            cumulative: cumulative, selective: selective, window: 4_096,
                            roundTripSample: now.duration(since: echo)),
                        now: now, into: &actions)
                    take(flow)
                }
            } else {
                for flow in engines.indices where started[flow] {
                    if let due = engines[flow].nextTimeout, due <= now {
                        engines[flow].handleTimeout(now: now, into: &actions)
                        take(flow)
                    }
                }
            }
        }
        return Result(delivered: samples, finishedAt: finishedAt, bottleneck: link)
    }
}
