import Foundation
import Testing

/// A test vector read from the `test-vectors` blocks of docs/PROTOCOL.md, so the document
/// and the codec cannot drift apart.
struct DocumentedVector: CustomTestStringConvertible, Sendable {
    var format: String
    var kind: String
    var sequence: UInt32
    var payload: [UInt8]
    var packet: [UInt8]

    var testDescription: String { "\(format) \(kind) seq \(sequence), \(payload.count) payload bytes" }

    /// Every vector line: `FORMAT KIND SEQUENCE PAYLOAD_HEX|- => PACKET_HEX`.
    static func load() throws -> [DocumentedVector] {
        let document = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/PROTOCOL.md")
        let text = try String(contentsOf: document, encoding: .utf8)
        var vectors: [DocumentedVector] = []
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock = line == "```test-vectors"
                continue
            }
            guard inBlock, !line.isEmpty else { continue }
            let halves = line.components(separatedBy: " => ")
            let fields = halves[0].split(separator: " ")
            guard halves.count == 2, fields.count == 4, let sequence = UInt32(fields[2].dropFirst(2), radix: 16) else {
                throw VectorError.unreadable(String(line))
            }
            vectors.append(
                DocumentedVector(
                    format: String(fields[0]), kind: String(fields[1]), sequence: sequence,
                    payload: fields[3] == "-" ? [] : try hexBytes(String(fields[3])),
                    packet: try hexBytes(halves[1])))
        }
        return vectors
    }

    static func hexBytes(_ text: String) throws -> [UInt8] {
        let digits = text.filter { !$0.isWhitespace }
        guard digits.count % 2 == 0 else { throw VectorError.unreadable(text) }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { throw VectorError.unreadable(text) }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    enum VectorError: Error { case unreadable(String) }
}
