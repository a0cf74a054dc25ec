import Foundation
import P2MPWire

extension PushReport {
    /// The `--json` document (schema: docs/push-report.schema.json).
    public func jsonDocument(file: String, name: String) -> String {
        struct Document: Encodable {
            var file: String
            var name: String
            var bytes: UInt64
            var sha256: String?
            var seconds: Double
            var ok: Bool
            var receivers: [Receiver]
        }
        struct Receiver: Encodable {
            var target: String
            var address: String
            var status: String
            var bytes: UInt64
            var seconds: Double
            var resumedBytes: UInt64
            var alreadyHeld: Bool
            var transmissions: Int
            var retransmissions: Int
            var timeouts: Int
            var rttMilliseconds: Double?
            var reason: String?
            var hostKey: String?
            var loss: Loss?
        }
        struct Loss: Encodable {
            struct Cause: Encodable {
                var lostSegments: UInt64
                var repairedSegments: UInt64
            }
            struct Causes: Encodable {
                var network: Cause
                var simulated: Cause
                var storage: Cause
            }
            var segments: UInt64
            var lostSegments: UInt64
            var repairedSegments: UInt64
            var duplicateSegments: UInt64
            var lossRate: Double
            var causes: Causes

            init(_ reception: NativeReception) {
                func cause(_ losses: NativeReception.Losses) -> Cause {
                    Cause(lostSegments: losses.lost, repairedSegments: losses.repaired)
                }
                segments = reception.segments
                lostSegments = reception.lost
                repairedSegments = reception.repaired
                duplicateSegments = reception.duplicates
                lossRate = reception.segments == 0 ? 0 : Double(reception.lost) / Double(reception.segments)
                causes = Causes(
                    network: cause(reception.network), simulated: cause(reception.simulated), storage: cause(reception.storage))
            }
        }
        let document = Document(
            file: file, name: name, bytes: bytes, sha256: sha256, seconds: elapsed.seconds, ok: allCompleted,
            receivers: receivers.map { receiver in
                var reason: String?
                if case .failed(let why) = receiver.status { reason = why }
                return Receiver(
                    target: receiver.target, address: receiver.address,
                    status: receiver.status == .completed ? "committed" : "failed", bytes: bytes,
                    seconds: receiver.elapsed.seconds, resumedBytes: receiver.resumedBytes,
                    alreadyHeld: receiver.alreadyHeld, transmissions: receiver.transmissions,
                    retransmissions: receiver.retransmissions, timeouts: receiver.timeouts,
                    rttMilliseconds: receiver.smoothedRTT.map { $0.seconds * 1000 }, reason: reason,
                    hostKey: receiver.hostKey?.fingerprint, loss: receiver.reception.map(Loss.init))
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(document)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
