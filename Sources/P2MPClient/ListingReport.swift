import Foundation
import NIOCore
import P2MPProtocol
import P2MPTransport
import P2MPWire

/// What `p2mpsend ls --json` prints: per host its files (name, size, full SHA-256, time) or
/// why it has none to show. Schema: docs/ls-report.schema.json.
public enum ListingReport {
    /// One document for the `answers` of `targets` (in their order). `timeout` (seconds, the
    /// give-up time) is named in the reason of a host that did not answer.
    public static func jsonDocument(
        targets: [(name: String, address: SocketAddress)], answers: [FleetQueryClient.Answer], timeout: Double
    ) -> String {
        struct Document: Encodable {
            var ok: Bool
            var hosts: [Host]
        }
        struct Host: Encodable {
            var target: String
            var address: String
            var status: String
            var files: [File]?
            var reason: String?
        }
        struct File: Encodable {
            var name: String
            var size: UInt64
            var sha256: String
            var modified: Date
            var modifiedUnix: UInt64
        }
        let hosts = zip(targets, answers).map { target, answer -> Host in
            var host = Host(target: target.name, address: target.address.displayString, status: "up")
            switch answer {
            case .listing(let entries):
                host.files = entries.map { entry in
                    File(
                        name: entry.name, size: entry.size, sha256: "\(entry.sha256)",
                        modified: Date(timeIntervalSince1970: Double(entry.modified)), modifiedUnix: entry.modified)
                }
            case .result(let result):
                host.status = "refused"
                host.reason = result.explanation
            case .unauthenticated(let reason):
                host.status = "unauthenticated"
                host.reason = reason
            case .noAnswer:
                host.status = "down"
                host.reason = "no answer in \(timeout) s"
            }
            return host
        }
        let document = Document(ok: hosts.allSatisfy { $0.status == "up" }, hosts: hosts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(document)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
