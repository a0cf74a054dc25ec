import NIOCore
import P2MPProtocol
import P2MPSpool
import P2MPTransport
import P2MPWire

/// Files the daemon sends (`p2mpsend get`): one `NativeSender` per request, to the one
/// client that asked, routed by the transfer id its session uses. At most
/// `maximumTransfers` at once. DATA is encoded in place and leaves in segmented sends, as
/// from `p2mpsend push`.
struct OutgoingTransfers {
    typealias Sender = NativeSender<FileSegmentSource>

    struct Transfer {
        var peer: SocketAddress
        var requestID: UInt64
        var name: String
        var sender: Sender
    }

    static let maximumTransfers = 16
    private(set) var transfers: [UInt64: Transfer] = [:]
    private var outputs: [Sender.Output] = []

    /// True when `transferID` belongs to a file being sent.
    func handles(_ transferID: UInt64) -> Bool { transfers[transferID] != nil }

    /// True when the GET `requestID` of `peer` is already being answered (a retried GET:
    /// the OFFER is repeated by its own timer).
    func isAnswering(_ requestID: UInt64, from peer: SocketAddress) -> Bool {
        transfers.values.contains { $0.requestID == requestID && $0.peer == peer }
    }

    /// Starts sending `name` to `peer`, or says why not.
    ///
    /// The session's transfer id is random, not derived from the request id: DATA flows only
    /// after an ACCEPT that echoes it, which a host that forged the GET's source address
    /// never sees. So a spoofed GET costs its victim a few OFFERs, never the file.
    mutating func start(
        name: String, requestID: UInt64, to peer: SocketAddress, spool: Spool, now: Instant,
        io: DatagramIO<DaemonSummary>
    ) -> NativeResult? {
        guard transfers.count < Self.maximumTransfers else {
            return NativeResult(status: .failed, text: "busy: \(Self.maximumTransfers) files are being sent")
        }
        let opened: (source: FileSegmentSource, file: ExistingFile)?
        do {
            opened = try spool.openForReading(try SpoolName(validating: name))
        } catch {
            return NativeResult(status: .failed, text: "cannot read '\(name)': \(error)")
        }
        guard let opened, let digest = SHA256Digest(opened.file.sha256) else {
            return NativeResult(status: .notFound, text: "no such file")
        }
        var random = SystemRandomNumberGenerator()
        var sender = Sender(
            source: opened.source, receiverCount: 1,
            configuration: .init(
                transferID: random.next(), name: name, sha256: digest, segmentSize: SegmentSize.automatic(toward: [peer])))
        sender.start(now: now, into: &outputs)
        let id = sender.transferIDs[0]
        transfers[id] = Transfer(peer: peer, requestID: requestID, name: name, sender: sender)
        carryOut(id, io: io)
        return nil
    }

    /// Hands a datagram to the transfer `transferID`; returns how it ended, once it has.
    mutating func receive(
        _ bytes: UnsafeRawBufferPointer, transferID: UInt64, from peer: SocketAddress, now: Instant,
        io: DatagramIO<DaemonSummary>
    ) -> (name: String, peer: SocketAddress, outcome: Sender.Outcome)? {
        guard var transfer = transfers[transferID], transfer.peer == peer else { return nil }
        transfer.sender.receive(bytes, from: 0, now: now, into: &outputs)
        transfers[transferID] = transfer
        return carryOut(transferID, io: io)
    }

    /// Runs every transfer's timers; returns those that ended.
    mutating func handleTimer(
        now: Instant, io: DatagramIO<DaemonSummary>
    ) -> [(name: String, peer: SocketAddress, outcome: Sender.Outcome)] {
        var ended: [(name: String, peer: SocketAddress, outcome: Sender.Outcome)] = []
        for id in Array(transfers.keys) {
            guard var transfer = transfers[id], let due = transfer.sender.nextDeadline(), due <= now else { continue }
            transfer.sender.handleTimer(now: now, into: &outputs)
            transfers[id] = transfer
            if let end = carryOut(id, io: io) { ended.append(end) }
        }
        return ended
    }

    /// The earliest deadline of any transfer.
    mutating func nextDeadline() -> Instant? {
        var earliest: Instant?
        for id in Array(transfers.keys) {
            if let due = transfers[id]!.sender.nextDeadline(), earliest.map({ due < $0 }) ?? true { earliest = due }
        }
        return earliest
    }

    /// Sends what the transfer asked for; removes it (re-keyed when its session id changed)
    /// and returns its outcome when it is over.
    @discardableResult
    private mutating func carryOut(
        _ id: UInt64, io: DatagramIO<DaemonSummary>
    ) -> (name: String, peer: SocketAddress, outcome: Sender.Outcome)? {
        guard var transfer = transfers[id] else { return nil }
        for output in outputs {
            switch output {
            case .send(_, let bytes):
                io.send(bytes, to: transfer.peer)
            case .sendData(let transmission):
                // A file that shrank or vanished while served yields no datagram; the
                // requester stops hearing from us and reports it.
                try? io.sendDatagram(size: transfer.sender.datagramSize(of: transmission), to: transfer.peer) {
                    try transfer.sender.writeData(transmission, to: $0)
                }
            case .accepted, .timedOut, .lossDetected, .finished:
                break
            }
        }
        outputs.removeAll(keepingCapacity: true)
        transfers[id] = nil
        if let outcome = transfer.sender.outcome(of: 0) {
            return (transfer.name, transfer.peer, outcome)
        }
        transfers[transfer.sender.transferIDs[0]] = transfer
        return nil
    }
}
