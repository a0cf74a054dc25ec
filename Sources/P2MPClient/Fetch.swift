import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSpool
import P2MPTransport

/// `p2mpsend get` on real sockets: a `FetchClient` writing into `DownloadFile`s, which hash
/// the prefix as it grows and are renamed into place only after their SHA-256 matched.
public enum FetchRunner {
    /// Fetches each `(name, destination path)` from `target`; the results come in the same
    /// order. A daemon silent for `giveUpAfter` fails the names it has not answered.
    public static func run(
        _ files: [(name: String, destination: String)], from target: SocketAddress, giveUpAfter: Duration
    ) async throws -> [FetchClient.Result] {
        try await DatagramRunner.run(
            bindingTo: [Endpoint.wildcard(like: target)], on: MultiThreadedEventLoopGroup.singleton.next()
        ) {
            FetchApplication(files: files, target: target, giveUpAfter: giveUpAfter)
        }
    }
}

final class FetchApplication: DatagramApplication {
    typealias Outcome = [FetchClient.Result]

    private let target: SocketAddress
    private let destinations: [String]
    private var downloads: [DownloadFile?]
    private var client: FetchClient

    init(files: [(name: String, destination: String)], target: SocketAddress, giveUpAfter: Duration) {
        self.target = target
        destinations = files.map(\.destination)
        downloads = Array(repeating: nil, count: files.count)
        var random = SystemRandomNumberGenerator()
        client = FetchClient(names: files.map(\.name), requestIDs: files.map { _ in random.next() }, giveUpAfter: giveUpAfter)
    }

    func start(io: DatagramIO<Outcome>) {
        client.start(now: io.now)
        drain(io, datagram: nil)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        guard sender == target else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            client.handle(bytes, now: now)
            takeEvents(datagram: bytes, now: now)
        }
    }

    func receiveBatchComplete(io: DatagramIO<Outcome>) {
        drain(io, datagram: nil)
    }

    func timerFired(io: DatagramIO<Outcome>) {
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
        takeEvents(datagram: datagram, now: io.now)
        while let next = client.peekTransmit() {
            io.send(maximumSize: next.size, to: target) { client.pollTransmit(into: $0)?.size ?? 0 }
        }
        if client.isFinished {
            io.finish(client.results.map { $0 ?? .failed("no answer") })
        } else {
            io.setTimer(client.nextTimeout)
        }
    }
}
