import Foundation
import P2MPWire
import Testing

/// An off-path attacker's tool: UDP datagrams with any source address and port, written
/// through a raw IPv4 socket (`IPPROTO_RAW`, which implies IP_HDRINCL; needs CAP_NET_RAW).
/// Binding the victim's address instead would take the victim's socket; this way the victim's
/// own socket stays where it is and counts what the daemon sends it. Only 127.0.0.0/8 sources
/// are accepted, so every reply the daemon makes stays on this host.
final class ForgedUDPSender {
    private let descriptor: Int32
    /// Datagrams and payload bytes sent so far.
    private(set) var sent = (datagrams: 0, bytes: 0)

    /// Whether this process may open raw sockets (root, or CAP_NET_RAW).
    static let isAvailable: Bool = {
        let probe = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
        guard probe >= 0 else { return false }
        Glibc.close(probe)
        return true
    }()

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
        guard descriptor >= 0 else { throw FixtureError("raw socket: \(String(cString: strerror(errno)))") }
    }

    deinit { Glibc.close(descriptor) }

    /// Sends `payload` as a UDP datagram from `source` to `destination` (the kernel fills in
    /// the IP header's length, id and checksum; the UDP checksum 0 means none, as IPv4 allows).
    func send(_ payload: [UInt8], from source: (address: String, port: Int), to destination: (address: String, port: Int)) throws {
        guard source.address.hasPrefix("127."), destination.address.hasPrefix("127.") else {
            throw FixtureError("forged datagrams stay on loopback: \(source.address) -> \(destination.address)")
        }
        var packet = [UInt8](repeating: 0, count: 28)
        packet[0] = 0x45
        packet[8] = 64
        packet[9] = UInt8(IPPROTO_UDP)
        inet_pton(AF_INET, source.address, &packet[12])
        inet_pton(AF_INET, destination.address, &packet[16])
        let udpLength = 8 + payload.count
        for (offset, value) in [(20, source.port), (22, destination.port), (24, udpLength)] {
            packet[offset] = UInt8(truncatingIfNeeded: value >> 8)
            packet[offset + 1] = UInt8(truncatingIfNeeded: value)
        }
        packet += payload
        var address = UDPRelay.socketAddress(destination.address, port: 0)
        let written = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard written == packet.count else { throw FixtureError("raw send: \(String(cString: strerror(errno)))") }
        sent.datagrams += 1
        sent.bytes += payload.count
    }
}

/// The socket of a host whose address an attacker forges: it counts what the daemon sends
/// it. To know when the daemon has answered everything before, the victim sends an INITIATE
/// of its own last (`sendMarker`) and reads up to the daemon's answer to it: the daemon reads
/// its socket in order and answers each read batch before the next, and none of the replies
/// an unauthenticated source can draw waits for a timer.
final class VictimSocket {
    let address: String
    let port: Int
    private let descriptor: Int32
    private var markerSession: UInt64 = 0

    /// Binds `address:port` (port 0: any free port).
    init(address: String, port: Int = 0) throws {
        self.address = address
        descriptor = try UDPRelay.boundSocket(address, port: port)
        self.port = UDPRelay.localPort(descriptor)
    }

    deinit { Glibc.close(descriptor) }

    var source: (address: String, port: Int) { (address, port) }

    /// Sends a fresh INITIATE under a session id of its own to `daemon`.
    func sendMarker(to daemon: Daemon, random: inout TestRandom) {
        markerSession = random.next() | 1
        let initiate = HandshakeMessages.initiate(session: markerSession, random: &random)
        var destination = UDPRelay.socketAddress(daemon.address, port: daemon.port)
        _ = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, initiate, initiate.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Every datagram that arrived before the daemon's answer to the marker (RESPONSE, or
    /// RETRY under load). Polls without blocking, so the tests running beside it keep their
    /// threads; throws when no answer came within `timeout` seconds (a bound that only turns
    /// a hang into a failure).
    func receiveUntilMarker(timeout: Double = 30) async throws -> [[UInt8]] {
        var received: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var answered = false
        try await Condition.wait(for: "the daemon's answer to the marker INITIATE", timeout: timeout) {
            while !answered {
                let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard count > 0 else { return false }
                let datagram = Array(buffer[..<count])
                let header = datagram.withUnsafeBytes { try? SecureDatagram.peekHeader($0) }
                if let header, header.session == markerSession, header.type == .response || header.type == .retry {
                    answered = true
                } else {
                    received.append(datagram)
                }
            }
            return true
        }
        return received
    }
}

/// Handshake messages written by hand, as a flooder (or the victim's marker) writes them.
enum HandshakeMessages {
    /// An INITIATE: 256 bytes, a random "ephemeral key" (the daemon cannot tell it from a
    /// real one before it does the work of a RESPONSE), no cookie.
    static func initiate(session: UInt64, random: inout TestRandom) -> [UInt8] {
        let key = (0..<SecureDatagram.keySize).map { _ in UInt8.random(in: 0...255, using: &random) }
        var datagram = [UInt8](repeating: 0, count: SecureDatagram.initiateSize)
        datagram.withUnsafeMutableBytes { destination in
            key.withUnsafeBytes {
                _ = SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: $0, cookie: nil, to: destination)
            }
        }
        return datagram
    }
}
