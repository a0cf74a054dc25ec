import NIOCore
import P2MPConfiguration
import P2MPSpool
import P2MPWire

/// The daemon's answer to an OFFER, decided against its configuration and its spool: first
/// `check`, which reads no file (on the loop), then `decide`, which looks at what the spool
/// holds under the name and may hash a file to know its digest (off the loop).
enum Admission: Sendable {
    /// Receive into `name`; `replacing` an existing file there.
    case receive(name: SpoolName, replacing: Bool)
    /// The spool holds this exact content under this name already.
    case alreadyHeld
    case refuse(NativeRejection)

    /// What `check` leaves to do.
    enum Check {
        case refuse(NativeRejection)
        /// Look `name` up with `decide`.
        case lookUp(SpoolName)
    }

    /// Checks, in order: the sender's network, its right to push, the name (and the prefix
    /// its key is limited to), the size, and free space (less what a partial of the same
    /// content already holds, and less `promisedBytes`, what running transfers will still
    /// write).
    static func check(
        offer: NativeOffer, from peer: SocketAddress, grant: PeerGrant, configuration: DaemonConfiguration,
        spool: any IncomingStorage, promisedBytes: UInt64 = 0
    ) -> Check {
        guard let address = peer.addressBytes, configuration.allows(ipAddress: address) else {
            return .refuse(NativeRejection(reason: .notAllowedFromAddress, text: "pushes from \(peer.ipAddress ?? "?") are not allowed"))
        }
        guard grant.rights.contains(.push) else {
            return .refuse(NativeRejection(reason: .notAllowedFromAddress, text: grant.refusal("pushes are", from: peer, right: "push", setting: "allow")))
        }
        let name: SpoolName
        do {
            name = try SpoolName(validating: offer.name)
        } catch {
            return .refuse(NativeRejection(reason: .nameNotAllowed, text: "name not allowed: \(error)"))
        }
        if let prefix = grant.namePrefix, !name.rawValue.hasPrefix(prefix) {
            return .refuse(NativeRejection(reason: .nameNotAllowed, text: "this key may only write names starting with '\(prefix)'"))
        }
        if offer.fileSize > configuration.maxFileSize.bytes {
            return .refuse(
                NativeRejection(
                    reason: .tooLarge,
                    text: "\(offer.fileSize) bytes is larger than the limit of \(configuration.maxFileSize.bytes) bytes"))
        }
        let disk = spool.freeBytes()
        let free = disk - min(disk, promisedBytes)
        // A resumed push's partial already holds its space.
        let reserved = ContentKey(sha256: offer.sha256.bytes, size: offer.fileSize).map { spool.reservedBytes(for: $0) } ?? 0
        // Saturating: the configuration's ranges keep the sum small, but no value may trap here.
        let (needed, overflow) = (offer.fileSize - min(reserved, offer.fileSize)).addingReportingOverflow(configuration.minFreeSpace.bytes)
        if overflow || free < needed {
            return .refuse(
                NativeRejection(
                    reason: .noSpace,
                    text: "\(offer.fileSize) bytes would leave less than \(configuration.minFreeSpace.bytes) bytes free (\(free) free)"))
        }
        return .lookUp(name)
    }

    /// What the spool holds under `name` decides the rest: nothing, so receive; the same
    /// content, already held; other content, as the conflict policy (or the OFFER's replace
    /// flag) says. Reads, and may hash, committed files: run it off the loop.
    static func decide(name: SpoolName, offer: NativeOffer, conflict: ConflictPolicy, spool: any SpoolLookup) -> Admission {
        let existing: ExistingFile?
        do {
            existing = try spool.existing(name)
        } catch .outsideSpool {
            return .refuse(NativeRejection(reason: .nameNotAllowed, text: "'\(offer.name)' resolves outside the spool"))
        } catch {
            return .refuse(NativeRejection(reason: .internalError, text: "cannot check '\(offer.name)': \(error)"))
        }
        guard let existing else { return .receive(name: name, replacing: false) }
        if existing.size == offer.fileSize, existing.sha256 == offer.sha256.bytes { return .alreadyHeld }
        if conflict == .replace || offer.flags.contains(.replaceExisting) {
            return .receive(name: name, replacing: true)
        }
        if conflict == .keepBoth, let free = freeVariant(of: name, in: spool) {
            return .receive(name: free, replacing: false)
        }
        return .refuse(
            NativeRejection(
                reason: .existsWithDifferentContent,
                text: "'\(offer.name)' exists with different content (sha256 \(existing.sha256Hex.prefix(16))…)"))
    }

    /// `NAME.1`, `NAME.2`, … : the first that is free, for the keep-both policy.
    private static func freeVariant(of name: SpoolName, in spool: any SpoolLookup) -> SpoolName? {
        for suffix in 1...999 {
            guard let candidate = try? SpoolName(validating: "\(name.rawValue).\(suffix)") else { return nil }
            do {
                if try spool.existing(candidate) == nil { return candidate }
            } catch {
                return nil
            }
        }
        return nil
    }
}

extension SocketAddress {
    /// 127.0.0.0/8, ::1, or an IPv4-mapped loopback address.
    var isLoopback: Bool {
        guard let bytes = addressBytes else { return false }
        if bytes.count == 4 { return bytes[0] == 127 }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
        return bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] && bytes[12] == 127
    }

    /// The IP address in network byte order (4 or 16 bytes).
    var addressBytes: [UInt8]? {
        switch self {
        case .v4(let address):
            return withUnsafeBytes(of: address.address.sin_addr) { Array($0) }
        case .v6(let address):
            return withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
        default:
            return nil
        }
    }
}
