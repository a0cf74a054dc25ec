import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPTransport

/// `p2mpsend ls`, `mv` and `rm` on real sockets: a `FleetQueryClient` to every target.
public enum FleetQueryRunner {
    /// Asks every target and returns their answers in the targets' order; a target silent
    /// for `giveUpAfter` is `.noAnswer`.
    public static func run(
        _ request: FleetQueryClient.Request, targets: [(name: String, address: SocketAddress)], giveUpAfter: Duration
    ) async throws -> [FleetQueryClient.Answer] {
        let bindings = Endpoint.wildcardBindings(reaching: targets.map(\.address))
        return try await DatagramRunner.run(bindingTo: bindings, on: MultiThreadedEventLoopGroup.singleton.next()) {
            FleetQueryApplication(request: request, targets: targets.map(\.address), giveUpAfter: giveUpAfter)
        }
    }
}

final class FleetQueryApplication: DatagramApplication {
    typealias Outcome = [FleetQueryClient.Answer]

    private let targets: [SocketAddress]
    private var client: FleetQueryClient

    init(request: FleetQueryClient.Request, targets: [SocketAddress], giveUpAfter: Duration) {
        self.targets = targets
        var random = SystemRandomNumberGenerator()
        client = FleetQueryClient(request: request, requestIDs: targets.map { _ in random.next() }, giveUpAfter: giveUpAfter)
    }

    func start(io: DatagramIO<Outcome>) {
        client.start(now: io.now)
        drain(io)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        guard let target = targets.firstIndex(of: sender) else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { client.handle($0, from: target, now: now) }
        drain(io)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        client.handleTimeout(now: io.now)
        drain(io)
    }

    /// Sends what the client asks for; its answers are read once it is finished.
    private func drain(_ io: DatagramIO<Outcome>) {
        while client.pollEvent() != nil {}
        while let next = client.peekTransmit() {
            io.send(maximumSize: next.size, to: targets[next.target]) { client.pollTransmit(into: $0)?.size ?? 0 }
        }
        if client.isFinished {
            io.finish(client.answers.map { $0 ?? .noAnswer(after: .zero) })
        } else {
            io.setTimer(client.nextTimeout)
        }
    }
}
