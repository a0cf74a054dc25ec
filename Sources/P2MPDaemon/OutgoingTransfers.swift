import NIOCore
import P2MPProtocol
import P2MPSpool
import P2MPTransport
import P2MPWire

/// Files the daemon sends (`p2mpsend get`): one `NativeSender` per request, to the one
/// client that asked, routed by the transfer id its session uses. DATA is encoded in place
/// and leaves in segmented sends, as from `p2mpsend push`.
///
/// Slots are bounded three ways: at most `maximumTransfers` at once, at most
/// `maximumPerRequester` for one requester (a key, or the address and port of an
/// unauthenticated loopback peer), and a transfer whose OFFER is not accepted within `acceptanceTimeout`
/// gives its slot up. A client that asked answers at once; a GET with a forged source
/// address (possible in clear, from loopback, while no trusted-senders file is set) is never
/// accepted, so it holds a slot 5 s, not the 30 s of a sender's give-up. An authenticated
/// peer cannot forge another's GET, and can hold at most its own 4 slots.
struct OutgoingTransfers {
    struct Transfer {
        var peer: DaemonPeer
        /// Who asked, for the per-requester cap.
        var requester: String
        var requestID: UInt64
        var name: String
        var source: FileSegmentSource
        var sender: NativeSender
        var offeredAt: Instant
        var accepted = false
    }

    /// How a file sent to a client ended.
    struct Ended {
        var name: String
        var peer: DaemonPeer
        var outcome: NativeSender.Outcome
    }

    static let maximumTransfers = 16
    static let maximumPerRequester = 4
    static let acceptanceTimeout: Duration = .seconds(5)
    private(set) var transfers: [UInt64: Transfer] = [:]

    /// True when `transferID` belongs to a file being sent.
    func handles(_ transferID: UInt64) -> Bool { transfers[transferID] != nil }

    /// True when the GET `requestID` of `peer` is already being answered (a retried GET:
    /// the OFFER is repeated by its own timer).
    func isAnswering(_ requestID: UInt64, from peer: DaemonPeer) -> Bool {
        transfers.values.contains { $0.requestID == requestID && $0.peer == peer }
    }

    /// Starts sending `name` to `peer`, or says why not.
    ///
    /// The session's transfer id is random, not derived from the request id: DATA flows only
    /// after an ACCEPT that echoes it, which a host that forged the GET's source address
    /// never sees. So a spoofed GET costs its victim a few OFFERs, never the file.
    mutating func start(
        name: String, requestID: UInt64, to peer: DaemonPeer, requester: String, spool: Spool, now: Instant,
        channels: PeerChannels, io: DatagramIO<DaemonSummary>
    ) -> NativeResult? {
        guard transfers.count < Self.maximumTransfers else {
            return NativeResult(status: .failed, text: "busy: \(Self.maximumTransfers) files are being sent")
        }
        guard transfers.values.count(where: { $0.requester == requester }) < Self.maximumPerRequester else {
            return NativeResult(status: .failed, text: "busy: \(Self.maximumPerRequester) files are being sent to \(requester)")
        }
        let opened: (source: FileSegmentSource, file: ExistingFile)?
        do {
            opened = try spool.openForReading(try SpoolName(validating: name))
        } catch {
            return NativeResult(status: .failed, text: "cannot read '\(name)': \(error)")
        }
        guard let opened, let digest = ContentDigest(opened.file.sha256) else {
            return NativeResult(status: .notFound, text: "no such file")
        }
        var random = SystemRandomNumberGenerator()
        var sender = NativeSender(
            fileSize: opened.source.byteCount, receiverCount: 1,
            configuration: .init(
                transferID: random.next(), name: name, sha256: digest,
                segmentSize: SegmentSize.automatic(toward: [peer.address]) - (peer.isAuthenticated ? SecureDatagram.sealedOverhead : 0),
                packetOverhead: PathMTU.headerBytes(toward: peer.address)))
        sender.start(now: now)
        let id = sender.transferIDs[0]
        transfers[id] = Transfer(
            peer: peer, requester: requester, requestID: requestID, name: name, source: opened.source, sender: sender,
            offeredAt: now)
        drain(id, now: now, channels: channels, io: io)
        return nil
    }

    /// Hands a datagram to the transfer `transferID`; returns how it ended, once it has.
    mutating func receive(
        _ bytes: UnsafeRawBufferPointer, transferID: UInt64, from peer: DaemonPeer, now: Instant,
        channels: PeerChannels, io: DatagramIO<DaemonSummary>
    ) -> Ended? {
        guard transfers[transferID]?.peer == peer else { return nil }
        transfers[transferID]?.sender.handle(bytes, from: 0, now: now)
        return drain(transferID, now: now, channels: channels, io: io)
    }

    /// Runs every transfer's timers; returns those that ended, among them those whose OFFER
    /// went unaccepted for `acceptanceTimeout`.
    mutating func handleTimeout(now: Instant, channels: PeerChannels, io: DatagramIO<DaemonSummary>) -> [Ended] {
        var ended: [Ended] = []
        for (id, transfer) in transfers where !transfer.accepted && transfer.offeredAt + Self.acceptanceTimeout <= now {
            transfers[id] = nil
            ended.append(Ended(name: transfer.name, peer: transfer.peer, outcome: .noAnswer(phase: .offer, after: Self.acceptanceTimeout)))
        }
        for id in Array(transfers.keys) {
            guard let due = transfers[id]?.sender.nextTimeout, due <= now else { continue }
            transfers[id]?.sender.handleTimeout(now: now)
            if let end = drain(id, now: now, channels: channels, io: io) { ended.append(end) }
        }
        return ended
    }

    /// The earliest deadline of any transfer.
    var nextTimeout: Instant? {
        transfers.values.reduce(nil) {
            Instant.earliest(Instant.earliest($0, $1.sender.nextTimeout), $1.accepted ? nil : $1.offeredAt + Self.acceptanceTimeout)
        }
    }

    /// Carries out what the transfer asks for (file bytes, datagrams); removes it (re-keyed
    /// when its session id changed) and returns its outcome when it is over. A file that
    /// shrank or vanished while served fails the transfer, which the requester is told.
    @discardableResult
    private mutating func drain(_ id: UInt64, now: Instant, channels: PeerChannels, io: DatagramIO<DaemonSummary>) -> Ended? {
        guard let peer = transfers[id]?.peer, let source = transfers[id]?.source else { return nil }
        repeat {
            while let event = transfers[id]?.sender.pollEvent() {
                switch event {
                case .payloadNeeded(let block):
                    transfers[id]?.sender.supplyPayload(block, now: now) { try source.read(offset: block.offset, into: $0) }
                case .accepted:
                    transfers[id]?.accepted = true
                default:
                    break
                }
            }
            while let next = transfers[id]?.sender.peekTransmit() {
                if next.isData {
                    channels.sendData(to: peer, size: next.size, io) { transfers[id]?.sender.pollTransmit(into: $0, now: now)?.size ?? 0 }
                } else {
                    channels.send(to: peer, maximumSize: next.size, io) {
                        transfers[id]?.sender.pollTransmit(into: $0, now: now)?.size ?? 0
                    }
                }
            }
        } while transfers[id]?.sender.hasEvents == true  // DATA waits for payload just asked for.
        guard let transfer = transfers.removeValue(forKey: id) else { return nil }
        if let outcome = transfer.sender.outcome(of: 0) {
            return Ended(name: transfer.name, peer: peer, outcome: outcome)
        }
        transfers[transfer.sender.transferIDs[0]] = transfer
        return nil
    }
}
