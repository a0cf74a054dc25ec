import Foundation
import NIOCore
import P2MPConfiguration
import P2MPSpool
import P2MPWire
import Testing

@testable import P2MPDaemon

@Suite("Admission of offers")
struct AdmissionTests {
    let peer = try! SocketAddress(ipAddress: "192.0.2.7", port: 5000)
    let pusher = PeerGrant(rights: [.push])

    func offer(name: String = "app.tar", size: UInt64 = 1_000, digest: UInt8 = 1, replace: Bool = false) -> NativeOffer {
        NativeOffer(
            segmentSize: 1_400, fileSize: size, sha256: ContentDigest(Array(repeating: digest, count: 32))!, window: 64,
            flags: replace ? .replaceExisting : [], name: name)
    }

    func withSpool(_ body: (Spool, URL) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-admission-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try body(try Spool(root: root.path), root)
    }

    func reason(_ admission: Admission) -> NativeRejectReason? {
        if case .refuse(let rejection) = admission { rejection.reason } else { nil }
    }

    @Test("an ordinary offer is received under its name")
    func accepted() throws {
        try withSpool { spool, _ in
            guard case .receive(let name, false) = Admission.decide(offer: offer(), from: peer, grant: pusher, configuration: .defaults, spool: SpoolStorage(spool: spool)) else {
                Issue.record("not accepted")
                return
            }
            #expect(name.rawValue == "app.tar")
        }
    }

    @Test("each limit refuses with its reason")
    func refusals() throws {
        try withSpool { spool, _ in
            var configuration = DaemonConfiguration.defaults
            configuration.allow = [try CIDR.parse("10.0.0.0/8").get()]
            #expect(reason(Admission.decide(offer: offer(), from: peer, grant: pusher, configuration: configuration, spool: SpoolStorage(spool: spool))) == .notAllowedFromAddress)
            #expect(reason(Admission.decide(offer: offer(name: "../x"), from: peer, grant: pusher, configuration: .defaults, spool: SpoolStorage(spool: spool))) == .nameNotAllowed)
            configuration = .defaults
            configuration.maxFileSize = ByteSize(bytes: 999)
            #expect(reason(Admission.decide(offer: offer(), from: peer, grant: pusher, configuration: configuration, spool: SpoolStorage(spool: spool))) == .tooLarge)
            configuration = .defaults
            configuration.minFreeSpace = ByteSize(bytes: .max / 2)
            #expect(reason(Admission.decide(offer: offer(), from: peer, grant: pusher, configuration: configuration, spool: SpoolStorage(spool: spool))) == .noSpace)
        }
    }

    @Test("a key without the push right is refused; a key limited to a prefix writes only under it")
    func keyRights() throws {
        try withSpool { spool, _ in
            let storage = SpoolStorage(spool: spool)
            let reader = PeerGrant(rights: [.read, .manage])
            guard case .refuse(let refusal) = Admission.decide(offer: offer(), from: peer, grant: reader, configuration: .defaults, spool: storage)
            else {
                Issue.record("a read-only key was admitted")
                return
            }
            #expect(refusal.reason == .notAllowedFromAddress)
            #expect(refusal.text.contains("pushes are not allowed"))
            let limited = PeerGrant(rights: [.push], namePrefix: "releases/")
            #expect(reason(Admission.decide(offer: offer(), from: peer, grant: limited, configuration: .defaults, spool: storage)) == .nameNotAllowed)
            guard case .receive(let name, _) = Admission.decide(
                offer: offer(name: "releases/app.tar"), from: peer, grant: limited, configuration: .defaults, spool: storage)
            else {
                Issue.record("a name under the key's prefix was refused")
                return
            }
            #expect(name.rawValue == "releases/app.tar")
        }
    }

    @Test("a resumed push is not refused for space its own partial already holds")
    func resumeOnAFullDisk() throws {
        try withSpool { spool, _ in
            let size: UInt64 = 64 << 20
            let resumed = offer(size: size, digest: 9)
            let key = try #require(ContentKey(sha256: resumed.sha256.bytes, size: size))
            try spool.openPartial(for: key).reserve(through: size)  // as if it had all arrived; it stays on disk
            // Leave half the file's size of headroom: a new file of this size would not fit.
            var configuration = DaemonConfiguration.defaults
            configuration.minFreeSpace = ByteSize(bytes: spool.freeBytes() - size / 2)
            #expect(reason(Admission.decide(offer: offer(size: size, digest: 8), from: peer, grant: pusher, configuration: configuration, spool: SpoolStorage(spool: spool))) == .noSpace)
            guard case .receive = Admission.decide(offer: resumed, from: peer, grant: pusher, configuration: configuration, spool: SpoolStorage(spool: spool)) else {
                Issue.record("the resumed push was refused although its space is reserved")
                return
            }
        }
    }

    @Test("an existing name: same content is already held; different content follows the conflict policy")
    func conflicts() throws {
        try withSpool { spool, root in
            let content = Data(repeating: 7, count: 1_000)
            try content.write(to: root.appendingPathComponent("app.tar"))
            let digest = try #require(ContentDigest(NativePushDigest.sha256(content)))
            var same = offer()
            same.sha256 = digest
            guard case .alreadyHeld = Admission.decide(offer: same, from: peer, grant: pusher, configuration: .defaults, spool: SpoolStorage(spool: spool)) else {
                Issue.record("same content not recognized")
                return
            }
            #expect(reason(Admission.decide(offer: offer(), from: peer, grant: pusher, configuration: .defaults, spool: SpoolStorage(spool: spool))) == .existsWithDifferentContent)
            guard case .receive(_, true) = Admission.decide(offer: offer(replace: true), from: peer, grant: pusher, configuration: .defaults, spool: SpoolStorage(spool: spool)) else {
                Issue.record("--replace not honoured")
                return
            }
            var keepBoth = DaemonConfiguration.defaults
            keepBoth.conflict = .keepBoth
            guard case .receive(let name, false) = Admission.decide(offer: offer(), from: peer, grant: pusher, configuration: keepBoth, spool: SpoolStorage(spool: spool)) else {
                Issue.record("keep-both did not pick a new name")
                return
            }
            #expect(name.rawValue == "app.tar.1")
        }
    }
}

/// SHA-256 through the spool's own file digest, so the test needs no second implementation.
enum NativePushDigest {
    static func sha256(_ data: Data) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-digest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let spool = try Spool(root: directory.path)
        try data.write(to: directory.appendingPathComponent("f"))
        return try #require(try spool.existing(SpoolName(validating: "f"))).sha256
    }
}

extension Admission {
    /// Both steps at once, as the daemon takes them (`check`, then `decide` off the loop).
    static func decide(
        offer: NativeOffer, from peer: SocketAddress, grant: PeerGrant, configuration: DaemonConfiguration, spool: SpoolStorage
    ) -> Admission {
        switch check(offer: offer, from: peer, grant: grant, configuration: configuration, spool: spool) {
        case .refuse(let rejection): .refuse(rejection)
        case .lookUp(let name): decide(name: name, offer: offer, conflict: configuration.conflict, spool: spool.spool)
        }
    }
}
