import P2MPProtocol
import P2MPWire

/// The answer to a native request in clear that the daemon does not serve (it requires
/// authentication, or the request is not from loopback): REJECT for an OFFER, RESULT for a
/// fleet query, both `authenticationRequired`, nothing for the rest. The reply is never
/// larger than the request, so a forged source draws no more bytes than it sent: the reason
/// goes along only when it fits whole (the code alone tells the sender what to do).
enum UnauthenticatedRefusal {
    static func reply(to request: UnsafeRawBufferPointer, reason: String) -> [UInt8]? {
        guard let datagram = try? NativeDatagram.decode(request) else { return nil }
        // What the reply's fixed part takes: header, CRC, and the body's fixed fields.
        let fixed = NativeDatagram.minimumSize + 4
        let room = request.count - fixed
        guard room >= 0 else { return nil }
        let text = reason.utf8.count <= room ? reason : ""
        let packet: NativePacket
        switch datagram.packet {
        case .offer:
            packet = .reject(NativeRejection(reason: .authenticationRequired, text: text))
        case .list, .move, .remove, .get:
            packet = .result(NativeResult(status: .authenticationRequired, text: text))
        default:
            return nil
        }
        var bytes: [UInt8] = []
        NativeDatagram(transferID: datagram.transferID, packet: packet).encode(into: &bytes)
        return bytes.count <= request.count ? bytes : nil
    }
}

/// At most `perSecond` replies per second to sources that did not authenticate.
struct ReplyBudget {
    let perSecond: Int
    private var second: UInt64 = .max
    private var left = 0

    init(perSecond: Int) {
        self.perSecond = perSecond
    }

    mutating func take(now: Instant) -> Bool {
        let current = now.nanoseconds / 1_000_000_000
        if current != second {
            second = current
            left = perSecond
        }
        guard left > 0 else { return false }
        left -= 1
        return true
    }
}
