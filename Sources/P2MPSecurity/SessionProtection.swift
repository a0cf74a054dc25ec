import P2MPWire

/// The sending half of an established session: seals each plaintext under the next counter.
public struct SessionSealer: Sendable {
    /// The id the peer chose for its end, carried in clear in every datagram for routing.
    public let remoteSession: UInt64
    let key: TrafficKey
    /// The counter the next datagram gets.
    public private(set) var nextCounter: UInt64 = 0
    /// Plaintext bytes sealed so far.
    public private(set) var sealedBytes: UInt64 = 0

    init(remoteSession: UInt64, key: TrafficKey) {
        self.remoteSession = remoteSession
        self.key = key
    }

    /// Whether the session may still seal: past `maximumCounter` it must end and the
    /// peers handshake again, so no nonce ever repeats and the AEAD stays inside its limits.
    public var isExhausted: Bool {
        nextCounter > SessionLimits.maximumCounter || sealedBytes >= SessionLimits.maximumBytes
    }

    /// Writes a complete SEALED datagram carrying `plaintext` (at most 65,028 bytes,
    /// checked) at the start of `destination` (at least `plaintext.count + 36` bytes,
    /// checked) and returns its size; nil when the session is exhausted.
    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        precondition(plaintext.count <= SecureDatagram.maximumSealedPlaintext, "sealed plaintext too large")
        guard !isExhausted else { return nil }
        let counter = nextCounter
        nextCounter += 1
        sealedBytes += UInt64(plaintext.count)
        SecureDatagram.writeSealedHeader(receiverSession: remoteSession, counter: counter, to: destination)
        let header = UnsafeRawBufferPointer(rebasing: destination[..<SecureDatagram.sealedHeaderSize])
        let body = UnsafeMutableRawBufferPointer(rebasing: destination[SecureDatagram.sealedHeaderSize...])
        return SecureDatagram.sealedHeaderSize
            + key.seal(plaintext, counter: counter, authenticating: header, into: body)
    }
}

/// The receiving half of an established session. Every check that costs nothing comes
/// before the AEAD (length, counter inside the window and not seen), the AEAD comes next,
/// and only an authentic datagram moves the replay window. Every drop is counted.
public struct SessionOpener: Sendable {
    /// Why datagrams were dropped, and how many opened.
    public struct Statistics: Equatable, Sendable {
        public var opened = 0
        /// Not a SEALED datagram of a valid length, or not for this session.
        public var malformed = 0
        /// A counter already received.
        public var replayed = 0
        /// A counter below the window, or beyond the session's last.
        public var outsideWindow = 0
        /// Did not authenticate: forged, tampered, or sealed under another key.
        public var forged = 0
    }

    /// The id this side chose; SEALED datagrams for this session carry it.
    public let localSession: UInt64
    let key: TrafficKey
    public private(set) var window = ReplayWindow()
    public private(set) var statistics = Statistics()

    init(localSession: UInt64, key: TrafficKey) {
        self.localSession = localSession
        self.key = key
    }

    /// Opens one SEALED datagram into `destination` (at least `datagram.count - 36` bytes,
    /// checked; not overlapping `datagram`) and returns the plaintext's size, or nil when
    /// it was dropped (and counted).
    public mutating func open(_ datagram: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        guard let sealed = try? SecureDatagram.decodeSealed(datagram), sealed.receiverSession == localSession else {
            statistics.malformed += 1
            return nil
        }
        guard sealed.counter <= SessionLimits.maximumCounter else {
            statistics.outsideWindow += 1
            return nil
        }
        switch window.verdict(for: sealed.counter) {
        case .fresh: break
        case .replayed:
            statistics.replayed += 1
            return nil
        case .tooOld:
            statistics.outsideWindow += 1
            return nil
        }
        let header = UnsafeRawBufferPointer(rebasing: datagram[..<SecureDatagram.sealedHeaderSize])
        let body = UnsafeRawBufferPointer(rebasing: datagram[sealed.sealed])
        guard let size = key.open(body, counter: sealed.counter, authenticating: header, into: destination) else {
            statistics.forged += 1
            return nil
        }
        window.record(sealed.counter)
        statistics.opened += 1
        return size
    }

    /// Accepts only counters above the highest opened from now on (`ReplayWindow.closeBelowHighest`).
    public mutating func closeWindow() {
        window.closeBelowHighest()
    }
}

/// How far one session goes under one key, so AES-256-GCM stays inside the margin TLS 1.3
/// keeps (RFC 8446, section 5.5; draft-irtf-cfrg-aead-limits): at most 2^40 bytes (2^36
/// blocks) per direction give an attacker an advantage of about 2^-57. A session that
/// reaches either limit ends and the peers handshake again.
public enum SessionLimits {
    /// The last counter a session seals or opens.
    public static let maximumCounter: UInt64 = 1 << 32
    /// Plaintext bytes one direction of a session seals, at most (1 TiB).
    public static let maximumBytes: UInt64 = 1 << 40
}
