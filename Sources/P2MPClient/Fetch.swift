import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSecurity
import P2MPSpool
import P2MPTransport

/// `p2mpsend get` on real sockets: a `FetchClient` writing into `DownloadFile`s, which hash
/// the prefix as it grows and are renamed into place only after their SHA-256 matched.
public enum FetchRunner {
    /// What a fetch ended with: each file's result in order, and the host key the daemon
    /// proved (authenticated fetches).
    public struct Outcome: Sendable {
        public var results: [FetchClient.Result]
        public var hostKey: IdentityKey?
    }

    /// Fetches each `(name, destination path)` from `target` once its session is up. A
    /// daemon silent for `giveUpAfter` fails the names it has not answered.
    public static func run(
        _ files: [(name: String, destination: String)], from target: SocketAddress, trust: ClientTrust,
        giveUpAfter: Duration
    ) async throws -> Outcome {
        try await DatagramRunner.run(
            bindingTo: [Endpoint.wildcard(like: target)], on: MultiThreadedEventLoopGroup.singleton.next()
        ) {
            FetchApplication(files: files, target: target, trust: trust, giveUpAfter: giveUpAfter)
        }
    }
}

final class FetchApplication: DatagramApplication {
    typealias Outcome = FetchRunner.Outcome

    private let target: SocketAddress
    private let trust: ClientTrust
    private let destinations: [String]
    private var downloads: [DownloadFile?]
    private var client: FetchClient
    private var links: ClientLinks?
    /// Why the session failed: every name fails with it.
    private var sessionFailure: String?

    init(files: [(name: String, destination: String)], target: SocketAddress, trust: ClientTrust, giveUpAfter: Duration) {
        self.target = target
        self.trust = trust
        destinations = files.map(\.destination)
        downloads = Array(repeating: nil, count: files.count)
        var random = SystemRandomNumberGenerator()
        client = FetchClient(names: files.map(\.name), requestIDs: files.map { _ in random.next() }, giveUpAfter: giveUpAfter)
    }

    func start(io: DatagramIO<Outcome>) {
        links = ClientLinks(trust: trust, targets: [target], giveUpAfter: client.giveUpAfter, now: io.now)
        drain(io, datagram: nil)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        guard sender == target, let links else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            guard let plaintext = links.open(bytes, from: 0, now: now) else { return }
            client.handle(plaintext, now: now)
            takeEvents(datagram: plaintext, now: now)
        }
    }

    func receiveBatchComplete(io: DatagramIO<Outcome>) {
        drain(io, datagram: nil)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        links?.handleTimeout(now: io.now)
        client.handleTimeout(now: io.now)
        drain(io, datagram: nil)
    }

    /// Stores what the client asks for; `datagram` is the one just handled.
    private func takeEvents(datagram: UnsafeRawBufferPointer?, now: Instant) {
        while let event = client.pollEvent() {
            switch event {
            case .offered(let request, let offer):
                do throws(FileSystemError) {
                    downloads[request] = try DownloadFile(destination: destinations[request], size: offer.fileSize)
                    client.admit(request, now: now)
                } catch {
                    client.storageFailed(request, reason: "cannot create \(destinations[request]): \(error)", now: now)
                }
            case .received(let request, let offset, let payload, let contiguous):
                guard let datagram, let download = downloads[request] else { continue }
                do throws(FileSystemError) {
                    try download.write(UnsafeRawBufferPointer(rebasing: datagram[payload]), at: offset, contiguous: contiguous)
                } catch {
                    client.storageFailed(request, reason: "cannot write: \(error)", now: now)
                }
            case .allReceived(let request):
                guard let download = downloads[request], let expected = client.offer(of: request) else { continue }
                do throws(FileSystemError) {
                    client.finalized(request, digestMatched: try download.commit(expectedSHA256: expected.sha256.bytes), now: now)
                } catch {
                    client.storageFailed(request, reason: "cannot commit: \(error)", now: now)
                }
            case .finished(let request, let result):
                if case .failed = result { downloads[request]?.discard() }
                downloads[request] = nil
            }
        }
    }

    private func drain(_ io: DatagramIO<Outcome>, datagram: UnsafeRawBufferPointer?) {
        guard let links else { return }
        while let event = links.pollEvent() {
            switch event {
            case .ready:
                client.start(now: io.now)
            case .renewed:
                break  // Only pushes renew their sessions.
            case .failed(_, let failure):
                sessionFailure =
                    ClientLinks.isUnanswered(failure)
                    ? "no answer for \(client.giveUpAfter)" : ClientLinks.explain(failure, target: "\(target)")
            }
        }
        if let sessionFailure {
            io.finish(Outcome(results: destinations.map { _ in .failed(sessionFailure) }, hostKey: nil))
            return
        }
        links.sendHandshakes(io)
        takeEvents(datagram: datagram, now: io.now)
        while let next = client.peekTransmit() {
            links.send(to: 0, maximumSize: next.size, io) { client.pollTransmit(into: $0)?.size ?? 0 }
        }
        if client.isFinished {
            io.finish(Outcome(results: client.results.map { $0 ?? .failed("no answer") }, hostKey: links.provedKeys[0]))
        } else {
            io.setTimer(Instant.earliest(client.nextTimeout, links.nextTimeout))
        }
    }
}
