import Foundation
import NIOCore
import P2MPProtocol
import P2MPWire

/// What `p2mpsend status` prints: per daemon its version, uptime, spool, totals, running
/// transfers and recent outcomes, or why it has none to show. `--json` prints one document
/// (schema: docs/status-report.schema.json), the terminal a few lines per daemon.
public enum StatusReport {
    /// One document for the `answers` of `targets` (in their order). `timeout` (seconds, the
    /// give-up time) is named in the reason of a host that did not answer.
    public static func jsonDocument(
        targets: [(name: String, address: SocketAddress)], answers: [FleetQueryClient.Answer], timeout: Double
    ) -> String {
        let hosts = zip(targets, answers).map { target, answer -> Host in
            var host = Host(target: target.name, address: target.address.displayString, status: "up")
            switch answer {
            case .status(let report): host.daemon = Daemon(report)
            case .result(let result): (host.status, host.reason) = ("refused", result.explanation)
            case .unauthenticated(let reason): (host.status, host.reason) = ("unauthenticated", reason)
            case .noAnswer: (host.status, host.reason) = ("down", "no answer in \(timeout) s")
            case .listing:  // Never the answer to STATUS: the client takes a LISTING only when it asked for one.
                (host.status, host.reason) = ("refused", "unexpected answer")
            }
            return host
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        let document = Document(ok: hosts.allSatisfy { $0.status == "up" }, hosts: hosts)
        return String(decoding: (try? encoder.encode(document)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The terminal's lines for one target: a summary line, then one line per transfer.
    public static func lines(target: String, answer: FleetQueryClient.Answer, timeout: Double) -> [String] {
        switch answer {
        case .status(let report):
            let summary = report.summary
            var lines = [
                "\(target)  up  p2mpd \(summary.version), up \(ProgressRenderer.duration(Double(summary.uptimeSeconds))); "
                    + "spool \(ProgressRenderer.bytes(summary.spoolUsedBytes)) in \(summary.spoolFiles) files, "
                    + "\(ProgressRenderer.bytes(summary.spoolFreeBytes)) free, \(summary.partials) partial\(summary.partials == 1 ? "" : "s"); "
                    + "\(summary.completed) completed, \(summary.failed) failed, \(ProgressRenderer.bytes(summary.bytesReceived)) received"
            ]
            for transfer in report.transfers {
                let ago = ProgressRenderer.duration(Double(summary.time) - Double(transfer.time))
                switch transfer.state {
                case .active:
                    lines.append(
                        "  receiving  \(transfer.name)  \(progress(transfer))% of \(ProgressRenderer.bytes(transfer.size)) "
                            + "at \(ProgressRenderer.rate(Double(transfer.rate)))  from \(transfer.sender), started \(ago) ago")
                case .completed:
                    lines.append(
                        "  completed  \(transfer.name)  \(ProgressRenderer.bytes(transfer.size))  from \(transfer.sender), \(ago) ago")
                case .failed:
                    lines.append("  failed     \(transfer.name)  from \(transfer.sender), \(ago) ago: \(transfer.text)")
                }
            }
            return lines
        case .result(let result): return ["\(target)  refused: \(result.explanation)"]
        case .unauthenticated(let reason): return ["\(target)  unauthenticated: \(reason)"]
        case .noAnswer: return ["\(target)  down: no answer in \(timeout) s"]
        case .listing: return ["\(target)  refused: unexpected answer"]
        }
    }

    /// Whole percent held, rounded down so that 100 means all of it.
    static func progress(_ transfer: NativeStatusReport.Transfer) -> Int {
        transfer.size == 0 ? 100 : Int(min(100, Double(transfer.bytes) * 100 / Double(transfer.size)))
    }

    // MARK: - The document

    private struct Document: Encodable {
        var ok: Bool
        var hosts: [Host]
    }

    private struct Host: Encodable {
        var target: String
        var address: String
        var status: String
        var reason: String?
        var daemon: Daemon?
    }

    private struct Daemon: Encodable {
        struct Spool: Encodable {
            var usedBytes: UInt64
            var freeBytes: UInt64
            var files: UInt32
            var partials: UInt32
        }
        struct Totals: Encodable {
            var completed: UInt64
            var failed: UInt64
            var bytesReceived: UInt64
        }
        struct Active: Encodable {
            var name: String
            var sender: String
            var size: UInt64
            var bytes: UInt64
            var percent: Int
            var rateBytesPerSecond: UInt64
            var started: Date
            var startedUnix: UInt64
        }
        struct Ended: Encodable {
            var name: String
            var sender: String
            var size: UInt64
            var bytes: UInt64
            var outcome: String
            var reason: String?
            var rateBytesPerSecond: UInt64
            var ended: Date
            var endedUnix: UInt64
        }

        var version: String
        var uptimeSeconds: UInt64
        var time: Date
        var timeUnix: UInt64
        var spool: Spool
        var totals: Totals
        var active: [Active]
        var recent: [Ended]

        init(_ report: NativeStatusReport) {
            let summary = report.summary
            version = summary.version
            uptimeSeconds = summary.uptimeSeconds
            time = Date(timeIntervalSince1970: Double(summary.time))
            timeUnix = summary.time
            spool = Spool(
                usedBytes: summary.spoolUsedBytes, freeBytes: summary.spoolFreeBytes, files: summary.spoolFiles,
                partials: summary.partials)
            totals = Totals(completed: summary.completed, failed: summary.failed, bytesReceived: summary.bytesReceived)
            active = report.transfers.filter { $0.state == .active }.map { transfer in
                Active(
                    name: transfer.name, sender: transfer.sender, size: transfer.size, bytes: transfer.bytes,
                    percent: StatusReport.progress(transfer), rateBytesPerSecond: transfer.rate,
                    started: Date(timeIntervalSince1970: Double(transfer.time)), startedUnix: transfer.time)
            }
            recent = report.transfers.filter { $0.state != .active }.map { transfer in
                Ended(
                    name: transfer.name, sender: transfer.sender, size: transfer.size, bytes: transfer.bytes,
                    outcome: transfer.state == .completed ? "completed" : "failed",
                    reason: transfer.state == .failed ? transfer.text : nil, rateBytesPerSecond: transfer.rate,
                    ended: Date(timeIntervalSince1970: Double(transfer.time)), endedUnix: transfer.time)
            }
        }
    }
}
