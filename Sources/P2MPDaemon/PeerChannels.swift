import NIOCore
import P2MPSecurity
import P2MPTransport
import P2MPWire

/// The daemon's authenticated sessions and its way out to peers: a datagram for a peer that
/// came through a session is written as plaintext and sealed into the socket's buffer; one
/// for an unauthenticated (loopback) peer is written there directly. Incoming SEALED
/// datagrams are opened into `plaintext`. On the loop only.
final class PeerChannels {
    typealias Sessions = SecureSessions<DaemonPeer, SystemRandomNumberGenerator>

    private(set) var sessions: Sessions
    /// Where the daemon's machines write a datagram before it is sealed.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: NativeDatagram.maximumSize, alignment: 16)
    /// Where sealed datagrams are opened.
    let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureDatagram.maximumSealedSize, alignment: 16)

    init(sessions: Sessions) {
        self.sessions = sessions
    }

    deinit {
        scratch.deallocate()
        plaintext.deallocate()
    }

    /// A datagram of the secure envelope from `address`: handshake, or a sealed datagram of
    /// a session (opened into `plaintext`).
    func handle(_ datagram: UnsafeRawBufferPointer, from address: SocketAddress, now: Duration) -> Sessions.Received {
        sessions.handle(datagram, from: DaemonPeer(address: address), now: now, plaintext: plaintext)
    }

    func handleTimeout(now: Duration) { sessions.handleTimeout(now: now) }

    var nextTimeout: Duration? { sessions.nextTimeout }

    func pollEvent() -> Sessions.Event? { sessions.pollEvent() }

    func replaceTrustedSenders(_ trusted: TrustedSenders) { sessions.replaceTrustedSenders(trusted) }

    /// What the handshake did, for the stop message (the datagrams the sessions dropped are
    /// in `DaemonStatistics.Drops`): "handshakes: 5 established, …, 300 cookies asked for, …".
    var handshakeSummary: String {
        let handshakes = sessions.responder.statistics
        return "handshakes: \(handshakes.established) established, \(handshakes.refused) refused, "
            + "\(handshakes.authenticationFailed + handshakes.forged) failed, \(handshakes.malformed) malformed, "
            + "\(handshakes.retriesSent) cookies asked for, \(handshakes.badCookies) bad cookies, "
            + "\(handshakes.halfOpenFull) dropped with \(sessions.responder.configuration.maximumHalfOpen) half-open, "
            + "\(handshakes.transmitQueueFull) replies dropped"
    }

    /// The peer a session's datagrams come from now.
    func peer(ofSession id: UInt64) -> DaemonPeer? {
        sessions.session(id).map { DaemonPeer(address: $0.peer.address, session: id) }
    }

    /// Sends the handshake replies waiting (each no larger than what it answers).
    func sendHandshakes<Outcome>(_ io: DatagramIO<Outcome>) {
        while true {
            var destination: DaemonPeer?
            let size = sessions.pollTransmit(into: scratch).map { reply -> Int in
                destination = reply.peer
                return reply.size
            }
            guard let size, let destination else { return }
            io.send(maximumSize: size, to: destination.address) { buffer in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<size]))
                return size
            }
        }
    }

    /// Sends one datagram of at most `maximumSize` bytes to `peer`, written by `write`.
    func send<Outcome>(
        to peer: DaemonPeer, maximumSize: Int, _ io: DatagramIO<Outcome>, write: (UnsafeMutableRawBufferPointer) -> Int
    ) {
        guard peer.isAuthenticated else {
            io.send(maximumSize: maximumSize, to: peer.address, write: write)
            return
        }
        let size = write(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(maximumSize, scratch.count)]))
        guard let address = sessions.session(peer.session)?.peer.address else { return }
        io.send(maximumSize: size + SecureDatagram.sealedOverhead, to: address) { buffer in
            sessions.seal(UnsafeRawBufferPointer(rebasing: scratch[0..<size]), for: peer.session, into: buffer)?.size ?? 0
        }
    }

    /// Sends one bulk DATA datagram of exactly `size` plaintext bytes to `peer`, in a
    /// segmented send with its neighbours (sealed ones are `sealedOverhead` larger, all alike).
    func sendData<Outcome>(
        to peer: DaemonPeer, size: Int, _ io: DatagramIO<Outcome>, write: (UnsafeMutableRawBufferPointer) -> Int
    ) {
        guard peer.isAuthenticated else {
            io.sendDatagram(size: size, to: peer.address, write: write)
            return
        }
        guard let address = sessions.session(peer.session)?.peer.address else { return }
        let written = write(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]))
        io.sendDatagram(size: written + SecureDatagram.sealedOverhead, to: address) { buffer in
            sessions.seal(UnsafeRawBufferPointer(rebasing: scratch[0..<written]), for: peer.session, into: buffer)?.size ?? 0
        }
    }

    /// Sends one native packet to `peer` under `transferID`.
    func send<Outcome>(_ packet: NativePacket, id transferID: UInt64, to peer: DaemonPeer, _ io: DatagramIO<Outcome>) {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: transferID, packet: packet).encode(into: &bytes)
        send(to: peer, maximumSize: bytes.count, io) { buffer in
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return bytes.count
        }
    }
}
