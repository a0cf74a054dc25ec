import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSecurity
import P2MPTransport

/// `p2mpsend ls`, `mv` and `rm` on real sockets: a `FleetQueryClient` to every target, each
/// asked once its session is up.
public enum FleetQueryRunner {
    /// What a query ended with: every target's answer in the targets' order, and the host
    /// key each one proved (authenticated queries).
    public struct Outcome: Sendable {
        public var answers: [FleetQueryClient.Answer]
        public var hostKeys: [IdentityKey?]
    }

    /// Asks every target; a target silent for `giveUpAfter` is `.noAnswer`.
    public static func run(
        _ request: FleetQueryClient.Request, targets: [(name: String, address: SocketAddress)], trust: ClientTrust,
        giveUpAfter: Duration
    ) async throws -> Outcome {
        let bindings = Endpoint.wildcardBindings(reaching: targets.map(\.address))
        return try await DatagramRunner.run(bindingTo: bindings, on: MultiThreadedEventLoopGroup.singleton.next()) {
            FleetQueryApplication(request: request, targets: targets, trust: trust, giveUpAfter: giveUpAfter)
        }
    }
}

final class FleetQueryApplication: DatagramApplication {
    typealias Outcome = FleetQueryRunner.Outcome

    private let targets: [(name: String, address: SocketAddress)]
    private let trust: ClientTrust
    private var client: FleetQueryClient
    private var links: ClientLinks?

    init(request: FleetQueryClient.Request, targets: [(name: String, address: SocketAddress)], trust: ClientTrust, giveUpAfter: Duration) {
        self.targets = targets
        self.trust = trust
        var random = SystemRandomNumberGenerator()
        client = FleetQueryClient(request: request, requestIDs: targets.map { _ in random.next() }, giveUpAfter: giveUpAfter)
    }

    func start(io: DatagramIO<Outcome>) {
        links = ClientLinks(trust: trust, targets: targets.map(\.address), giveUpAfter: client.giveUpAfter, now: io.now)
        drain(io)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        guard let target = targets.firstIndex(where: { $0.address == sender }), let links else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            if let plaintext = links.open(bytes, from: target, now: now) { client.handle(plaintext, from: target, now: now) }
        }
        drain(io)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        links?.handleTimeout(now: io.now)
        client.handleTimeout(now: io.now)
        drain(io)
    }

    /// Asks the targets whose session came up, sends what the client asks for; its answers
    /// are read once it is finished.
    private func drain(_ io: DatagramIO<Outcome>) {
        guard let links else { return }
        let now = io.now
        while let event = links.pollEvent() {
            switch event {
            case .ready(let target, _):
                client.start(target: target, now: now)
            case .renewed:
                break  // Only pushes renew their sessions.
            case .failed(let target, let failure):
                let answer: FleetQueryClient.Answer =
                    ClientLinks.isUnanswered(failure)
                    ? .noAnswer(after: client.giveUpAfter)
                    : .unauthenticated(ClientLinks.explain(failure, target: targets[target].name))
                client.abandon(target: target, answer: answer)
            }
        }
        links.sendHandshakes(io)
        while client.pollEvent() != nil {}
        while let next = client.peekTransmit() {
            links.send(to: next.target, maximumSize: next.size, io) { client.pollTransmit(into: $0)?.size ?? 0 }
        }
        if client.isFinished {
            io.finish(Outcome(answers: client.answers.map { $0 ?? .noAnswer(after: .zero) }, hostKeys: links.provedKeys))
        } else {
            io.setTimer(Instant.earliest(client.nextTimeout, links.nextTimeout))
        }
    }
}
