import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPTransport
import P2MPWire

/// `p2mpsend ls`, `mv` and `rm`: one request to each receiver, repeated until it answers or
/// the deadline passes; listings are fetched page by page.
public enum FleetQuery {
    public enum Request: Sendable, Equatable {
        case list
        case move(from: String, to: String)
        case remove(name: String)
    }

    /// One receiver's answer.
    public enum Answer: Sendable, Equatable {
        case listing([NativeListing.Entry])
        case result(NativeResult)
        /// Nothing came back before the deadline.
        case noAnswer
    }

    /// Asks every target and returns their answers in the targets' order.
    public static func run(
        _ request: Request, targets: [(name: String, address: SocketAddress)], deadline: Duration
    ) async throws -> [Answer] {
        let families = Dictionary(grouping: targets.map(\.address), by: { $0.protocol })
        let bindings = families.values.map { Endpoint.wildcard(like: $0[0]) }
        return try await DatagramRunner.run(bindingTo: bindings, on: MultiThreadedEventLoopGroup.singleton.next()) {
            FleetQueryApplication(request: request, targets: targets.map(\.address), deadline: deadline)
        }
    }
}

final class FleetQueryApplication: DatagramApplication {
    typealias Outcome = [FleetQuery.Answer]

    private struct Pending {
        var requestID: UInt64
        var cursor: UInt32 = 0
        var entries: [NativeListing.Entry] = []
        var answer: FleetQuery.Answer?
    }

    static let retryInterval: Duration = .milliseconds(250)

    private let request: FleetQuery.Request
    private let targets: [SocketAddress]
    private let deadline: Duration
    private var pending: [Pending]
    private var giveUpAt = Instant.zero
    private var random = SystemRandomNumberGenerator()

    init(request: FleetQuery.Request, targets: [SocketAddress], deadline: Duration) {
        self.request = request
        self.targets = targets
        self.deadline = deadline
        var random = SystemRandomNumberGenerator()
        pending = targets.map { _ in Pending(requestID: random.next()) }
    }

    func start(io: DatagramIO<Outcome>) {
        giveUpAt = io.now + deadline
        for index in targets.indices { send(index, io: io) }
        io.setTimer(io.now + Self.retryInterval)
        finishIfDone(io)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        guard let index = targets.firstIndex(of: sender), pending[index].answer == nil,
            let decoded = datagram.withUnsafeReadableBytes({ try? NativeDatagram.decode($0) }),
            decoded.transferID == pending[index].requestID
        else { return }
        switch decoded.packet {
        case .listing(let page) where page.cursor == pending[index].cursor:
            pending[index].entries += page.entries
            pending[index].cursor = page.cursor + UInt32(page.entries.count)
            if pending[index].cursor >= page.total || page.entries.isEmpty {
                pending[index].answer = .listing(pending[index].entries)
            } else {
                send(index, io: io)
            }
        case .result(let result):
            pending[index].answer = .result(result)
        default:
            return
        }
        finishIfDone(io)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        if io.now >= giveUpAt {
            for index in pending.indices where pending[index].answer == nil { pending[index].answer = .noAnswer }
        } else {
            for index in pending.indices where pending[index].answer == nil { send(index, io: io) }
            io.setTimer(min(io.now + Self.retryInterval, giveUpAt))
        }
        finishIfDone(io)
    }

    private func send(_ index: Int, io: DatagramIO<Outcome>) {
        let packet: NativePacket
        switch request {
        case .list: packet = .list(cursor: pending[index].cursor)
        case .move(let from, let to): packet = .move(from: from, to: to)
        case .remove(let name): packet = .remove(name: name)
        }
        var bytes: [UInt8] = []
        NativeDatagram(transferID: pending[index].requestID, packet: packet).encode(into: &bytes)
        io.send(bytes, to: targets[index])
    }

    private func finishIfDone(_ io: DatagramIO<Outcome>) {
        let answers = pending.compactMap(\.answer)
        if answers.count == pending.count { io.finish(answers) }
    }
}
