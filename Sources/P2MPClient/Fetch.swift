import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSpool
import P2MPTransport
import P2MPWire

/// `p2mpsend get`: files fetched from one daemon over the native protocol, the roles of a
/// push reversed. All names are requested at once and received concurrently.
public enum Fetch {
    /// How one name ended.
    public enum Result: Sendable, Equatable {
        case fetched(path: String, bytes: UInt64)
        case failed(String)
    }

    /// Fetches each `(name, destination path)` from `target`.
    public static func run(
        _ files: [(name: String, destination: String)], from target: SocketAddress, deadline: Duration
    ) async throws -> [Result] {
        try await DatagramRunner.run(bindingTo: [Endpoint.wildcard(like: target)], on: MultiThreadedEventLoopGroup.singleton.next()) {
            FetchApplication(files: files, target: target, deadline: deadline)
        }
    }
}

final class FetchApplication: DatagramApplication {
    typealias Outcome = [Fetch.Result]
    typealias Receiver = NativeReceiverEndpoint<SocketAddress, SystemRandomNumberGenerator>

    private struct Request {
        var name: String
        var destination: String
        var requestID: UInt64
        var transferID: UInt64?
        var download: DownloadFile?
        var offer: NativeOffer?
        var result: Fetch.Result?
    }

    static let retryInterval: Duration = .milliseconds(250)
    /// Time to stay after the last file, so a lost COMPLETE can be repeated.
    static let linger: Duration = .milliseconds(300)

    private let target: SocketAddress
    private let deadline: Duration
    private var requests: [Request]
    private var receiver = Receiver(
        configuration: .init(maximumSessions: 64, linger: .seconds(2)),
        loss: SimulatedLoss(probability: 0, random: SystemRandomNumberGenerator()))
    private var outputs: [Receiver.Output] = []
    private var answerBy = Instant.zero
    private var doneAt: Instant?

    init(files: [(name: String, destination: String)], target: SocketAddress, deadline: Duration) {
        self.target = target
        self.deadline = deadline
        var random = SystemRandomNumberGenerator()
        requests = files.map { Request(name: $0.name, destination: $0.destination, requestID: random.next()) }
    }

    func start(io: DatagramIO<Outcome>) {
        answerBy = io.now + deadline
        for index in requests.indices { sendRequest(index, io: io) }
        rearm(io)
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        guard sender == target else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { bytes in
            if let decoded = try? NativeDatagram.decode(bytes), case .result(let result) = decoded.packet,
                let index = requests.firstIndex(where: { $0.requestID == decoded.transferID && $0.result == nil })
            {
                requests[index].result = .failed("\(result.status): \(result.text)")
                return
            }
            receiver.receive(bytes, from: sender, now: now, into: &outputs)
            carryOut(datagram: bytes, now: now, io: io)
        }
        checkDone(now: now, io: io)
    }

    func receiveBatchComplete(io: DatagramIO<Outcome>) {
        receiver.flushAcknowledgements(into: &outputs)
        carryOut(datagram: nil, now: io.now, io: io)
        rearm(io)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        let now = io.now
        if let doneAt, now >= doneAt + Self.linger {
            io.finish(requests.map { $0.result ?? .failed("no answer") })
            return
        }
        receiver.handleTimer(now: now, into: &outputs)
        carryOut(datagram: nil, now: now, io: io)
        for index in requests.indices where requests[index].result == nil && requests[index].transferID == nil {
            if now >= answerBy {
                requests[index].result = .failed("no answer in \(deadline)")
            } else {
                sendRequest(index, io: io)
            }
        }
        checkDone(now: now, io: io)
        rearm(io)
    }

    private func carryOut(datagram: UnsafeRawBufferPointer?, now: Instant, io: DatagramIO<Outcome>) {
        var cursor = 0
        while cursor < outputs.count {
            let output = outputs[cursor]
            cursor += 1
            switch output {
            case .send(let peer, let bytes):
                io.send(bytes, to: peer)
            case .admit(let id, _, let offer):
                admit(id, offer: offer, now: now)
            case .store(let id, let offset, let payload):
                guard let datagram, let index = requests.firstIndex(where: { $0.transferID == id }) else { continue }
                do throws(FileSystemError) {
                    try requests[index].download?.write(
                        UnsafeRawBufferPointer(rebasing: datagram[payload]), at: offset,
                        contiguous: receiver.contiguousBytes(of: id) ?? 0)
                } catch {
                    fail(index, "cannot write: \(error)", now: now)
                }
            case .finalize(let id):
                guard let index = requests.firstIndex(where: { $0.transferID == id }),
                    let download = requests[index].download, let offer = requests[index].offer
                else { continue }
                do throws(FileSystemError) {
                    if try download.commit(expectedSHA256: offer.sha256.bytes) {
                        requests[index].result = .fetched(path: download.destination, bytes: offer.fileSize)
                        receiver.finalized(id, NativeCompletion(status: .committed, sha256: offer.sha256), now: now, into: &outputs)
                    } else {
                        requests[index].result = .failed("SHA-256 mismatch")
                        receiver.finalized(id, NativeCompletion(status: .digestMismatch, sha256: .zero), now: now, into: &outputs)
                    }
                } catch {
                    fail(index, "cannot commit: \(error)", now: now)
                }
            case .ended(let id, let reason):
                if let index = requests.firstIndex(where: { $0.transferID == id }), requests[index].result == nil {
                    requests[index].download?.discard()
                    requests[index].result = .failed("transfer ended: \(reason)")
                }
            case .discarded, .duplicate, .query:
                continue
            }
        }
        outputs.removeAll(keepingCapacity: true)
    }

    /// An OFFER answers the request whose name it carries.
    private func admit(_ id: UInt64, offer: NativeOffer, now: Instant) {
        guard let index = requests.firstIndex(where: { $0.name == offer.name && $0.transferID == nil && $0.result == nil }) else {
            receiver.refuse(id, NativeRejection(reason: .malformedOffer, text: "not asked for"), into: &outputs)
            return
        }
        do throws(FileSystemError) {
            requests[index].download = try DownloadFile(destination: requests[index].destination, size: offer.fileSize)
            requests[index].transferID = id
            requests[index].offer = offer
            receiver.admit(id, resumeFrom: 0, alreadyComplete: false, now: now, into: &outputs)
        } catch {
            requests[index].result = .failed("cannot create \(requests[index].destination): \(error)")
            receiver.refuse(id, NativeRejection(reason: .internalError, text: "\(error)"), into: &outputs)
        }
    }

    private func fail(_ index: Int, _ reason: String, now: Instant) {
        requests[index].download?.discard()
        requests[index].result = .failed(reason)
        if let id = requests[index].transferID { receiver.failStorage(id, reason: reason, now: now, into: &outputs) }
    }

    private func sendRequest(_ index: Int, io: DatagramIO<Outcome>) {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: requests[index].requestID, packet: .get(name: requests[index].name)).encode(into: &bytes)
        io.send(bytes, to: target)
    }

    private func checkDone(now: Instant, io: DatagramIO<Outcome>) {
        if doneAt == nil, requests.allSatisfy({ $0.result != nil }) {
            doneAt = now
            io.setTimer(now + Self.linger)
        }
    }

    private func rearm(_ io: DatagramIO<Outcome>) {
        let retry: Instant? = requests.contains { $0.result == nil && $0.transferID == nil } ? io.now + Self.retryInterval : nil
        let linger: Instant? = doneAt.map { $0 + Self.linger }
        io.setTimer([receiver.nextDeadline, retry, linger].compactMap { $0 }.min())
    }
}
