import P2MPWire

/// Where a sealed plaintext belongs: the receiver it went to or came from, the session id
/// its datagram carried (the receiving side's id) and its counter.
struct SealKey: Hashable, Sendable {
    var receiver: Int
    var session: UInt64
    var counter: UInt64

    /// The key of `sealed`, a SEALED datagram to or from `receiver`; nil when it is not one.
    init?(receiver: Int, sealed: some Collection<UInt8>) {
        guard let header = Array(sealed).withUnsafeBytes({ try? SecureDatagram.decodeSealed($0) }) else { return nil }
        self.init(receiver: receiver, session: header.receiverSession, counter: header.counter)
    }

    init(receiver: Int, session: UInt64, counter: UInt64) {
        self.receiver = receiver
        self.session = session
        self.counter = counter
    }
}

/// Every plaintext the honest parties sealed, by where it was sealed to: a machine that
/// accepts a plaintext must have been handed exactly one of these, sealed for the session
/// and counter it arrived under. Anything else came from the attacker.
struct Provenance {
    /// What the sender sealed for each receiver.
    private(set) var fromSender: [SealKey: [UInt8]] = [:]
    /// What each receiver sealed for the sender.
    private(set) var fromReceivers: [SealKey: [UInt8]] = [:]

    mutating func sealedBySender(_ sealed: ArraySlice<UInt8>, plaintext: ArraySlice<UInt8>, for receiver: Int) {
        if let key = SealKey(receiver: receiver, sealed: sealed) { fromSender[key] = Array(plaintext) }
    }

    mutating func sealedByReceiver(_ receiver: Int, _ sealed: ArraySlice<UInt8>, plaintext: ArraySlice<UInt8>) {
        if let key = SealKey(receiver: receiver, sealed: sealed) { fromReceivers[key] = Array(plaintext) }
    }
}
