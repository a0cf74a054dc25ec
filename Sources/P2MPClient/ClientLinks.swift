@preconcurrency import Crypto
import NIOCore
import P2MPKeys
import P2MPProtocol
import P2MPSecurity
import P2MPTransport
import P2MPWire

/// What a client authenticates with: its identity (nil: the native protocol in clear, which
/// daemons serve only to loopback and only without a trusted-senders file) and, per target,
/// which host key it must prove.
public struct ClientTrust: Sendable {
    public typealias HostKeyPolicy = HandshakeInitiator<SystemRandomNumberGenerator>.HostKeyPolicy

    public var identity: KeyPairFile?
    public var hostKeys: [HostKeyPolicy]

    public init(identity: KeyPairFile?, hostKeys: [HostKeyPolicy]) {
        self.identity = identity
        self.hostKeys = hostKeys
    }

    /// No identity: every target in clear.
    public static func plain(targets: Int) -> ClientTrust {
        ClientTrust(identity: nil, hostKeys: Array(repeating: .acceptNew, count: targets))
    }

    /// Bytes sealing adds to each datagram.
    public var overhead: Int { identity == nil ? 0 : SecureDatagram.sealedOverhead }
}

/// A client application's sessions to its targets on the loop (`SecureLinks` with buffers):
/// datagrams from a target are opened before the machine sees them, the machine's datagrams
/// written as plaintext and sealed into the socket's buffer. The host keys targets proved
/// stay readable after the run (`provedKeys`), for known-hosts. Used on the application's
/// loop only, then read by the caller once the run is over.
final class ClientLinks: @unchecked Sendable {
    private var links: SecureLinks<SystemRandomNumberGenerator>
    private let targets: [SocketAddress]
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: NativeDatagram.maximumSize, alignment: 16)
    private let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureDatagram.maximumSealedSize, alignment: 16)
    /// Each target's proved host key, once its session is up.
    private(set) var provedKeys: [IdentityKey?]

    /// Sessions to `targets` under `trust`; a handshake silent for `giveUpAfter` fails with
    /// `noAnswer`. With `renewsSilentSessions`, a session unanswered for a fifth of that is
    /// replaced by a new handshake (`.renewed`), so a push outlives a daemon restart.
    init(trust: ClientTrust, targets: [SocketAddress], giveUpAfter: Duration, renewsSilentSessions: Bool = false, now: Instant) {
        precondition(trust.hostKeys.count == targets.count, "one host-key policy per target")
        self.targets = targets
        links = SecureLinks(
            identity: trust.identity?.privateKey, hostKeys: trust.hostKeys, configuration: .init(giveUpAfter: giveUpAfter),
            renewAfter: renewsSilentSessions ? giveUpAfter / 5 : nil, random: SystemRandomNumberGenerator(),
            now: now.sinceOrigin)
        provedKeys = Array(repeating: nil, count: targets.count)
    }

    deinit {
        scratch.deallocate()
        plaintext.deallocate()
    }

    var nextTimeout: Instant? { links.nextTimeout.map(Instant.init(sinceOrigin:)) }

    func handleTimeout(now: Instant) { links.handleTimeout(now: now.sinceOrigin) }

    /// Targets whose session came up, was renewed or failed since the last call.
    func pollEvent() -> SecureLinks<SystemRandomNumberGenerator>.Event? {
        let event = links.pollEvent()
        if case .ready(let target, let key?)? = event { provedKeys[target] = key }
        return event
    }

    /// A datagram from `target`: the machine's plaintext (valid until the next call), or
    /// nil when it was a handshake message or was dropped.
    func open(_ datagram: UnsafeRawBufferPointer, from target: Int, now: Instant) -> UnsafeRawBufferPointer? {
        switch links.handle(datagram, from: target, now: now.sinceOrigin, plaintext: plaintext) {
        case .plaintext(let size): UnsafeRawBufferPointer(rebasing: plaintext[0..<size])
        case .handshake, .dropped: nil
        }
    }

    /// Sends the handshake messages due.
    func sendHandshakes<Outcome>(_ io: DatagramIO<Outcome>) {
        while let (target, size) = links.pollTransmit(into: scratch) {
            io.send(maximumSize: size, to: targets[target]) { buffer in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<size]))
                return size
            }
        }
    }

    /// Sends one datagram of the machine (at most `maximumSize` bytes, written by `write`) to `target`.
    func send<Outcome>(to target: Int, maximumSize: Int, _ io: DatagramIO<Outcome>, write: (UnsafeMutableRawBufferPointer) -> Int) {
        let size = write(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(maximumSize, scratch.count)]))
        guard size > 0 else { return }
        let now = io.now.sinceOrigin
        io.send(maximumSize: size + links.overhead, to: targets[target]) { buffer in
            links.seal(UnsafeRawBufferPointer(rebasing: scratch[0..<size]), for: target, into: buffer, now: now) ?? 0
        }
    }

    /// Sends one bulk DATA datagram of exactly `size` plaintext bytes to `target`, in a
    /// segmented send with its neighbours.
    func sendData<Outcome>(to target: Int, size: Int, _ io: DatagramIO<Outcome>, write: (UnsafeMutableRawBufferPointer) -> Int) {
        guard links.isSecure else {
            io.sendDatagram(size: size, to: targets[target], write: write)
            return
        }
        let written = write(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]))
        let now = io.now.sinceOrigin
        io.sendDatagram(size: written + links.overhead, to: targets[target]) { buffer in
            links.seal(UnsafeRawBufferPointer(rebasing: scratch[0..<written]), for: target, into: buffer, now: now) ?? 0
        }
    }

    /// Whether the session to `target` failed because nothing answered (the daemon was
    /// never reached).
    static func isUnanswered(_ failure: HandshakeInitiator<SystemRandomNumberGenerator>.Failure) -> Bool {
        failure == .noAnswer
    }

    /// What a failed handshake means to an operator, naming the target.
    static func explain(_ failure: HandshakeInitiator<SystemRandomNumberGenerator>.Failure, target: String) -> String {
        switch failure {
        case .noAnswer:
            return "no answer to the handshake (is p2mpd running there, and reachable?)"
        case .refused(let reason):
            return "refused our key: \(reason)"
        case .unknownHostKey(let key):
            return "unknown host key \(key.fingerprint) for \(target); if it is right, run again with "
                + "--accept-new-host-keys (p2mpd --show-host-key prints it on that host)"
        case .hostKeyChanged(let expected, let received):
            return "HOST KEY CHANGED for \(target): known_hosts has \(expected.fingerprint), the daemon proved "
                + "\(received.fingerprint); someone may be in the middle. If the daemon's key was replaced, "
                + "delete its line from known_hosts"
        }
    }
}
