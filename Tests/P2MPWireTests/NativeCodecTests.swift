import Foundation
import P2MPWire
import Testing

// MARK: - Helpers

/// SplitMix64: a tiny generator whose whole stream is fixed by its seed, so the randomized
/// tests below replay exactly.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func decode(_ bytes: [UInt8]) -> Result<NativeDatagram, NativeDecodingError> {
    bytes.withUnsafeBytes { buffer in
        Result { () throws(NativeDecodingError) in try NativeDatagram.decode(buffer) }
    }
}

/// Encodes `datagram`; a `.data` packet's payload range indexes `payloadSource`.
private func encode(_ datagram: NativeDatagram, payloadSource: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = []
    payloadSource.withUnsafeBytes { datagram.encode(into: &bytes, payloadSource: $0) }
    return bytes
}

/// A datagram with this header and body and a correct CRC, valid or not otherwise.
private func frame(
    type: UInt8, body: [UInt8], transferID: UInt64 = 0x0123_4567_89AB_CDEF, magic: UInt16 = 0x5032,
    version: UInt8 = 1
) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.appendBigEndian(magic)
    bytes.append(version)
    bytes.append(type)
    bytes.appendBigEndian(transferID)
    bytes.append(contentsOf: body)
    bytes.appendBigEndian(bytes.withUnsafeBytes { CRC32C.compute($0) })
    return bytes
}

/// The concatenation of `parts` (cheaper to type-check than chains of `+`).
private func cat(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

private func u16(_ value: UInt16) -> [UInt8] {
    var b: [UInt8] = []
    b.appendBigEndian(value)
    return b
}
private func u32(_ value: UInt32) -> [UInt8] {
    var b: [UInt8] = []
    b.appendBigEndian(value)
    return b
}
private func u64(_ value: UInt64) -> [UInt8] {
    var b: [UInt8] = []
    b.appendBigEndian(value)
    return b
}

private let helloDigest = ContentDigest(
    words: (0x2CF2_4DBA_5FB0_A30E, 0x26E8_3B2A_C5B9_E29E, 0x1B16_1E5C_1FA7_425E, 0x7304_3362_938B_9824))
private let emptyDigest = ContentDigest(
    words: (0xE3B0_C442_98FC_1C14, 0x9AFB_F4C8_996F_B924, 0x27AE_41E4_649B_934C, 0xA495_991B_7852_B855))
private let maxDigest = ContentDigest(words: (.max, .max, .max, .max))
/// The reception report of the `complete-with-reception` vector.
private let sampleReception = NativeReception(
    segments: 1_000, duplicates: 2, network: .init(lost: 20, repaired: 19), simulated: .init(lost: 5, repaired: 5),
    storage: .init(lost: 1, repaired: 0))

/// A valid OFFER body with this name (bytes, not validated) and declared name length.
private func offerBody(name: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
    cat(
        u32(1400), u64(1_000_000), helloDigest.bytes, u32(64), u32(0), u16(UInt16(declaredLength ?? name.count)), name)
}

// MARK: - Samples

/// Every non-DATA packet type, with ordinary and extreme field values.
private let samples: [NativeDatagram] = {
    let t: UInt64 = 0x0123_4567_89AB_CDEF
    let longName = String(repeating: "n", count: 4094) + "é"  // 4,096 bytes
    let longText = String(repeating: "€", count: 341) + "z"  // 1,024 bytes
    var datagrams: [NativeDatagram] = []
    func add(_ transferID: UInt64, _ packet: NativePacket) {
        datagrams.append(NativeDatagram(transferID: transferID, packet: packet))
    }
    add(
        t,
        .offer(
            NativeOffer(
                segmentSize: 1400, fileSize: 1_000_000, sha256: helloDigest, window: 64, flags: .replaceExisting,
                name: "résumé.txt")))
    add(0, .offer(NativeOffer(segmentSize: 0, fileSize: 0, sha256: .zero, window: 0, name: "a")))
    add(
        .max,
        .offer(
            NativeOffer(
                segmentSize: .max, fileSize: .max, sha256: maxDigest, window: .max,
                flags: NativeOfferFlags(rawValue: .max), name: longName)))
    add(t, .offer(NativeOffer(segmentSize: 1, fileSize: 1, sha256: emptyDigest, window: 1, name: "dir/😀 \u{0}")))
    add(t, .accept(NativeAccept(resumeFrom: 42, window: 128)))
    add(t, .accept(NativeAccept(resumeFrom: 0, window: 0, alreadyComplete: true)))
    add(.max, .accept(NativeAccept(resumeFrom: .max, window: .max, alreadyComplete: false)))
    add(t, .probe)
    add(0, .probe)
    add(.max, .probe)
    add(t, .ack(NativeAck(cumulative: 0, window: 0, echoTimestamp: 0)))
    add(t, .ack(NativeAck(cumulative: 10, window: 64, echoTimestamp: 0x0102_0304, selective: [12..<15, 20..<21])))
    add(t, .ack(NativeAck(cumulative: 5, window: 1, echoTimestamp: .max, selective: [5..<6, 6..<7])))
    add(
        .max, .ack(NativeAck(cumulative: .max - 1, window: .max, echoTimestamp: .max, selective: [(.max - 1)..<(.max)]))
    )
    add(
        t,
        .ack(
            NativeAck(
                cumulative: 100, window: 256, echoTimestamp: 7,
                selective: SACKRanges((UInt64(0)..<16).map { (i: UInt64) -> Range<UInt64> in (101 + 3 * i)..<(103 + 3 * i) }))))
    add(t, .complete(NativeCompletion(status: .committed, sha256: helloDigest)))
    add(t, .complete(NativeCompletion(status: .digestMismatch, sha256: emptyDigest, text: "digest mismatch")))
    add(t, .complete(NativeCompletion(status: .writeFailed, sha256: maxDigest, text: longText)))
    add(t, .complete(NativeCompletion(status: .unknown(3), sha256: .zero)))
    add(t, .complete(NativeCompletion(status: .unknown(255), sha256: .zero, text: "?")))
    add(t, .complete(NativeCompletion(status: .committed, sha256: helloDigest, reception: NativeReception())))
    add(t, .complete(NativeCompletion(status: .writeFailed, sha256: maxDigest, text: longText, reception: sampleReception)))
    add(
        .max,
        .complete(
            NativeCompletion(
                status: .unknown(.max), sha256: .zero, text: "?",
                reception: NativeReception(
                    segments: .max, duplicates: .max, network: .init(lost: .max, repaired: .max),
                    simulated: .init(lost: .max, repaired: .max), storage: .init(lost: .max, repaired: .max)))))
    let reasons: [NativeRejectReason] = [
        .tooLarge, .noSpace, .nameNotAllowed, .existsWithDifferentContent, .busy, .notAllowedFromAddress,
        .malformedOffer, .internalError, .unknown(0), .unknownTransfer, .shuttingDown, .authenticationRequired, .unknown(12),
        .unknown(.max),
    ]
    for reason in reasons {
        add(t, .reject(NativeRejection(reason: reason, text: "no: \(reason)")))
        add(t, .abort(NativeRejection(reason: reason)))
    }
    add(t, .reject(NativeRejection(reason: .busy, text: longText)))
    add(t, .list(cursor: 7))
    add(t, .listing(NativeListing(total: 1, cursor: 0, entries: [.init(name: longName, size: .max, modified: .max, sha256: maxDigest)])))
    add(t, .move(from: "a", to: longName))
    add(t, .remove(name: "dir/😀"))
    add(t, .get(name: longName))
    add(t, .result(NativeResult(status: .exists, text: longText)))
    add(0, .abort(NativeRejection(reason: .internalError, text: longText)))
    return datagrams
}()

/// DATA packets built with `encodeData`, of payload lengths around the slicing boundaries and
/// at the limit.
private let dataSamples: [[UInt8]] = {
    var random = SplitMix64(seed: 7)
    return [0, 1, 7, 8, 9, 1400, NativeDatagram.maximumPayload].enumerated().map { index, length in
        let payload = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        let segments: [UInt64] = [0, 1, .max, 0x0123_4567_89AB_CDEF]
        var bytes: [UInt8] = []
        payload.withUnsafeBytes {
            NativeDatagram.encodeData(
                transferID: random.next(), segment: segments[index % segments.count],
                timestamp: UInt32(truncatingIfNeeded: random.next()), payload: $0, into: &bytes)
        }
        return bytes
    }
}()

/// Every sample encoded, DATA included.
private let encodedSamples: [[UInt8]] = samples.map { encode($0) } + dataSamples

// MARK: - Documented vectors

/// A vector from the ```native-test-vectors block: `LABEL => HEX`, where the label's first
/// word (before any `-`) is the packet type and `|` in the hex only groups fields.
struct NativeDocumentedVector: CustomTestStringConvertible, Sendable {
    var label: String
    var packet: [UInt8]

    var testDescription: String { label }

    /// Reads the `native-test-vectors` block of docs/PROTOCOL.md.
    static func load() throws -> [NativeDocumentedVector] {
        let document = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/PROTOCOL.md")
        return try parse(String(contentsOf: document, encoding: .utf8))
    }

    static func parse(_ text: String) throws -> [NativeDocumentedVector] {
        var vectors: [NativeDocumentedVector] = []
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock = line == "```native-test-vectors"
                continue
            }
            guard inBlock, !line.isEmpty else { continue }
            let halves = line.components(separatedBy: " => ")
            guard halves.count == 2, !halves[0].contains(" ") else {
                throw DocumentedVector.VectorError.unreadable(String(line))
            }
            let hex = halves[1].replacingOccurrences(of: "|", with: " ")
            vectors.append(NativeDocumentedVector(label: halves[0], packet: try DocumentedVector.hexBytes(hex)))
        }
        return vectors
    }

    /// What each documented vector must decode to (see the list under the block).
    static let expected: [String: NativeDatagram] = {
        let t: UInt64 = 0x0123_4567_89AB_CDEF
        return [
            "offer": NativeDatagram(
                transferID: t,
                packet: .offer(
                    NativeOffer(
                        segmentSize: 1400, fileSize: 1_000_000, sha256: helloDigest, window: 64,
                        flags: .replaceExisting, name: "résumé.txt"))),
            "offer-empty-file": NativeDatagram(
                transferID: .max,
                packet: .offer(NativeOffer(segmentSize: .max, fileSize: 0, sha256: emptyDigest, window: 1, name: "a"))),
            "accept": NativeDatagram(transferID: t, packet: .accept(NativeAccept(resumeFrom: 42, window: 128))),
            "accept-already-complete": NativeDatagram(
                transferID: 1, packet: .accept(NativeAccept(resumeFrom: 0, window: 0, alreadyComplete: true))),
            "reject": NativeDatagram(
                transferID: t,
                packet: .reject(
                    NativeRejection(reason: .existsWithDifferentContent, text: "exists with different content"))),
            "reject-unknown-reason": NativeDatagram(
                transferID: t, packet: .reject(NativeRejection(reason: .unknown(0xBEEF)))),
            "data": NativeDatagram(
                transferID: t, packet: .data(NativeDataSegment(segment: 7, timestamp: 0x0102_0304, payload: 24..<29))),
            "data-empty": NativeDatagram(
                transferID: 0, packet: .data(NativeDataSegment(segment: .max, timestamp: .max, payload: 24..<24))),
            "ack": NativeDatagram(
                transferID: t,
                packet: .ack(
                    NativeAck(cumulative: 10, window: 64, echoTimestamp: 0x0102_0304, selective: [12..<15, 20..<21]))),
            "ack-no-sack": NativeDatagram(
                transferID: t, packet: .ack(NativeAck(cumulative: 0, window: 32, echoTimestamp: 0))),
            "complete": NativeDatagram(
                transferID: t, packet: .complete(NativeCompletion(status: .committed, sha256: helloDigest))),
            "complete-digest-mismatch": NativeDatagram(
                transferID: t,
                packet: .complete(
                    NativeCompletion(status: .digestMismatch, sha256: emptyDigest, text: "digest mismatch"))),
            "complete-with-reception": NativeDatagram(
                transferID: t,
                packet: .complete(NativeCompletion(status: .committed, sha256: helloDigest, reception: sampleReception))),
            "probe": NativeDatagram(transferID: t, packet: .probe),
            "abort": NativeDatagram(
                transferID: t, packet: .abort(NativeRejection(reason: .busy, text: "shutting down"))),
            "list": NativeDatagram(transferID: t, packet: .list(cursor: 0)),
            "listing": NativeDatagram(
                transferID: t,
                packet: .listing(
                    NativeListing(
                        total: 2, cursor: 1,
                        entries: [.init(name: "hello.txt", size: 5, modified: 1_795_000_000, sha256: helloDigest)]))),
            "move": NativeDatagram(transferID: t, packet: .move(from: "a.bin", to: "dir/b.bin")),
            "remove": NativeDatagram(transferID: t, packet: .remove(name: "a.bin")),
            "result": NativeDatagram(transferID: t, packet: .result(NativeResult(status: .notFound, text: "no such file"))),
            "get": NativeDatagram(transferID: t, packet: .get(name: "hello.txt")),
        ]
    }()
}

// MARK: - Tests

@Suite("Native wire format")
struct NativeCodecTests {
    static let vectors = (try? NativeDocumentedVector.load()) ?? []

    @Test("the protocol document carries a native vector for every packet type, and only known labels")
    func documentHasVectors() throws {
        let vectors = try NativeDocumentedVector.load()
        let kinds = Set(vectors.map { $0.label.split(separator: "-")[0] })
        #expect(kinds == Set(NativePacketType.allCases.map { "\($0)" }))
        #expect(Set(vectors.map(\.label)) == Set(NativeDocumentedVector.expected.keys))
        #expect(vectors.count == Set(vectors.map(\.label)).count, "labels are unique")
    }

    @Test("a documented vector decodes to its value and re-encodes byte for byte", arguments: vectors)
    func documentedVector(_ vector: NativeDocumentedVector) throws {
        let expected = try #require(NativeDocumentedVector.expected[vector.label])
        let decoded = try decode(vector.packet).get()
        #expect(decoded == expected)
        #expect("\(decoded.packet.type)" == vector.label.split(separator: "-")[0])
        #expect(encode(expected, payloadSource: vector.packet) == vector.packet)
        if case .data(let data) = expected.packet {
            var direct: [UInt8] = []
            Array(vector.packet[data.payload]).withUnsafeBytes {
                NativeDatagram.encodeData(
                    transferID: expected.transferID, segment: data.segment, timestamp: data.timestamp, payload: $0,
                    into: &direct)
            }
            #expect(direct == vector.packet)
        }
    }

    @Test("every packet type round-trips, extremes included", arguments: samples)
    func roundTrip(_ datagram: NativeDatagram) throws {
        let bytes = encode(datagram)
        let decoded = try decode(bytes).get()
        #expect(decoded == datagram)
        #expect(encode(decoded) == bytes)
        #expect(bytes.withUnsafeBytes { NativeDatagram.peekTransferID($0) } == datagram.transferID)
        #expect(bytes.withUnsafeBytes { NativeDatagram.peekHeader($0) } == datagram.header)
    }

    @Test("samples cover every packet type")
    func samplesCoverEveryType() throws {
        let types = try Set(encodedSamples.map { try decode($0).get().packet.type })
        #expect(types == Set(NativePacketType.allCases))
    }

    @Test("DATA round-trips through encodeData, decode and encode(into:payloadSource:)")
    func dataRoundTrip() throws {
        for bytes in dataSamples {
            let decoded = try decode(bytes).get()
            guard case .data(let data) = decoded.packet else {
                Issue.record("not DATA: \(decoded)")
                continue
            }
            #expect(data.payload.lowerBound == NativeDatagram.dataHeaderSize)
            #expect(data.payload.upperBound == bytes.count - NativeDatagram.checksumSize)
            #expect(encode(decoded, payloadSource: bytes) == bytes)
            // The payload range also works against a copy of the payload alone, shifted.
            let payload = Array(bytes[data.payload])
            var shifted = decoded
            shifted.packet = .data(
                NativeDataSegment(segment: data.segment, timestamp: data.timestamp, payload: 0..<payload.count))
            #expect(encode(shifted, payloadSource: payload) == bytes)
        }
        #expect(dataSamples.last?.count == NativeDatagram.maximumSize)
    }

    @Test("encode appends to what the buffer already holds")
    func appends() throws {
        var buffer: [UInt8] = [1, 2, 3]
        NativeDatagram(transferID: 9, packet: .probe).encode(into: &buffer)
        #expect(buffer.count == 3 + NativeDatagram.minimumSize)
        #expect(Array(buffer[..<3]) == [1, 2, 3])
        #expect(try decode(Array(buffer[3...])).get() == NativeDatagram(transferID: 9, packet: .probe))
        Array("xyz".utf8).withUnsafeBytes {
            NativeDatagram.encodeData(transferID: 9, segment: 1, timestamp: 2, payload: $0, into: &buffer)
        }
        let data = try decode(Array(buffer[(3 + NativeDatagram.minimumSize)...])).get()
        #expect(data.packet == .data(NativeDataSegment(segment: 1, timestamp: 2, payload: 24..<27)))
    }

    @Test("texts over 1024 bytes are cut at a scalar boundary when encoded")
    func textTruncation() throws {
        let cases: [(text: String, expected: String)] = [
            (String(repeating: "a", count: 2000), String(repeating: "a", count: 1024)),
            (String(repeating: "é", count: 600), String(repeating: "é", count: 512)),
            (String(repeating: "€", count: 400), String(repeating: "€", count: 341)),
            ("a" + String(repeating: "😀", count: 300), "a" + String(repeating: "😀", count: 255)),
        ]
        for (text, expected) in cases {
            let rejection = NativeDatagram(transferID: 1, packet: .reject(NativeRejection(reason: .busy, text: text)))
            let decoded = try decode(encode(rejection)).get()
            #expect(decoded.packet == .reject(NativeRejection(reason: .busy, text: expected)))
            let completion = NativeDatagram(
                transferID: 1, packet: .complete(NativeCompletion(status: .committed, sha256: .zero, text: text)))
            #expect(
                try decode(encode(completion)).get().packet
                    == .complete(NativeCompletion(status: .committed, sha256: .zero, text: expected)))
        }
    }

    @Test("reason and status values map to their cases and back")
    func enumerations() {
        for raw in UInt16(0)...20 {
            #expect(NativeRejectReason(rawValue: raw).rawValue == raw)
        }
        #expect(NativeRejectReason(rawValue: 4) == .existsWithDifferentContent)
        #expect(NativeRejectReason(rawValue: 0) == .unknown(0))
        #expect(NativeRejectReason(rawValue: 9) == .unknownTransfer)
        #expect(NativeRejectReason(rawValue: 11) == .authenticationRequired)
        #expect(NativeRejectReason(rawValue: 12) == .unknown(12))
        for raw in UInt8.min...UInt8.max {
            #expect(NativeCompletionStatus(rawValue: raw).rawValue == raw)
        }
        #expect(NativeCompletionStatus(rawValue: 1) == .digestMismatch)
        #expect(NativeCompletionStatus(rawValue: 3) == .unknown(3))
    }

    @Test("ContentDigest reads and writes its 32 bytes in order")
    func digest() {
        let bytes = (0..<32).map { UInt8($0) }
        let digest = ContentDigest(bytes)
        #expect(digest?.bytes == bytes)
        #expect(digest?.description == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        #expect(ContentDigest(bytes.dropLast()) == nil)
        #expect(ContentDigest(bytes + [0]) == nil)
        #expect(helloDigest.description == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    }

    @Test("peeking reads the transfer id without checking the CRC, and nothing from garbage")
    func peek() {
        var bytes = frame(type: 0x07, body: [])
        bytes[bytes.count - 1] ^= 1
        bytes.withUnsafeBytes {
            #expect(NativeDatagram.peekTransferID($0) == 0x0123_4567_89AB_CDEF)
            #expect(NativeDatagram.peekHeader($0) == NativeHeader(type: .probe, transferID: 0x0123_4567_89AB_CDEF))
            #expect(NativeDatagram.peekTransferID(UnsafeRawBufferPointer(rebasing: $0[..<15])) == nil)
        }
        for damaged in [frame(type: 7, body: [], magic: 0x5033), frame(type: 7, body: [], version: 2)] {
            damaged.withUnsafeBytes {
                #expect(NativeDatagram.peekTransferID($0) == nil)
                #expect(NativeDatagram.peekHeader($0) == nil)
            }
        }
        frame(type: 0x0F, body: []).withUnsafeBytes {
            #expect(NativeDatagram.peekTransferID($0) == 0x0123_4567_89AB_CDEF)
            #expect(NativeDatagram.peekHeader($0) == nil)
        }
    }

    // MARK: Decoding errors

    @Test("header errors: truncated, bad magic, unsupported version, bad CRC, unknown type")
    func headerErrors() {
        let probe = frame(type: 7, body: [])
        #expect(decode([]) == .failure(.truncated(length: 0)))
        #expect(decode(Array(probe.prefix(15))) == .failure(.truncated(length: 15)))
        #expect(decode(frame(type: 7, body: [], magic: 0x5033)) == .failure(.badMagic(0x5033)))
        #expect(decode(frame(type: 7, body: [], magic: 0)) == .failure(.badMagic(0)))
        #expect(decode(frame(type: 7, body: [], version: 0)) == .failure(.unsupportedVersion(0)))
        #expect(decode(frame(type: 7, body: [], version: 2)) == .failure(.unsupportedVersion(2)))
        var badCRC = probe
        badCRC[12] ^= 0x80
        #expect(decode(badCRC) == .failure(.badChecksum))
        var badBody = frame(type: 4, body: cat(u64(1), u32(2), [1, 2, 3]))
        badBody[25] ^= 1
        #expect(decode(badBody) == .failure(.badChecksum))
        for type: UInt8 in [0, 0x0F, 0x10, 0x81, 0xFF] {
            #expect(decode(frame(type: type, body: [])) == .failure(.unknownType(type)))
        }
        // The type is only believed once the CRC holds.
        var unknownAndDamaged = frame(type: 0x42, body: [])
        unknownAndDamaged[4] ^= 1
        #expect(decode(unknownAndDamaged) == .failure(.badChecksum))
    }

    @Test("bodies of the wrong length for their type")
    func wrongBodyLengths() {
        func expectWrong(_ type: NativePacketType, _ body: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(
                decode(frame(type: type.rawValue, body: body))
                    == .failure(.wrongBodyLength(type: type, length: body.count)),
                sourceLocation: sourceLocation)
        }
        // Below the fixed part.
        expectWrong(.offer, [])
        expectWrong(.offer, Array(offerBody(name: []).prefix(53)))
        expectWrong(.accept, [])
        expectWrong(.accept, [UInt8](repeating: 0, count: 12))
        expectWrong(.reject, [0, 1, 0])
        expectWrong(.abort, [0])
        expectWrong(.data, [UInt8](repeating: 0, count: 11))
        expectWrong(.ack, [UInt8](repeating: 0, count: 16))
        expectWrong(.complete, [UInt8](repeating: 0, count: 34))
        // Trailing bytes after a fixed-size body.
        expectWrong(.accept, [UInt8](repeating: 0, count: 14))
        expectWrong(.probe, [0])
        expectWrong(.probe, [UInt8](repeating: 0, count: 100))
        // A declared length that does not match the rest of the body.
        expectWrong(.offer, offerBody(name: Array("name".utf8), declaredLength: 5))
        expectWrong(.offer, offerBody(name: Array("name".utf8), declaredLength: 3))
        expectWrong(.offer, offerBody(name: [], declaredLength: 4096))
        expectWrong(.reject, cat(u16(1), u16(3), Array("ab".utf8)))
        expectWrong(.reject, cat(u16(1), u16(1), Array("ab".utf8)))
        expectWrong(.abort, cat(u16(1), u16(1024)))
        expectWrong(.abort, cat(u16(1), u16(0), [0x41]))
        expectWrong(.complete, cat([0], helloDigest.bytes, u16(2), [0x41]))
        expectWrong(.complete, cat([0], helloDigest.bytes, u16(0), [0x41]))
        // A reception report is exactly eight u64 after the text, or absent.
        expectWrong(.complete, cat([0], helloDigest.bytes, u16(0), [UInt8](repeating: 0, count: 63)))
        expectWrong(.complete, cat([0], helloDigest.bytes, u16(0), [UInt8](repeating: 0, count: 65)))
        expectWrong(.complete, cat([0], helloDigest.bytes, u16(1), [0x41], [UInt8](repeating: 0, count: 128)))
        let ackFixed = cat(u64(1), u32(2), u32(3))
        expectWrong(.ack, cat(ackFixed, [0], [0]))
        expectWrong(.ack, cat(ackFixed, [1], u64(2), [0, 0, 0, 0, 0, 0, 0]))
        expectWrong(.ack, cat(ackFixed, [1], u64(2), u64(3), [0]))
        expectWrong(.ack, cat(ackFixed, [16], u64(2), u64(3)))
    }

    @Test("DATA payloads over 65,000 bytes")
    func payloadTooLong() {
        let body = cat(u64(0), u32(0), [UInt8](repeating: 0xAB, count: 65_001))
        #expect(decode(frame(type: 4, body: body)) == .failure(.payloadTooLong(length: 65_001)))
        let atLimit = cat(u64(0), u32(0), [UInt8](repeating: 0xAB, count: 65_000))
        #expect(
            decode(frame(type: 4, body: atLimit))
                == .success(
                    NativeDatagram(
                        transferID: 0x0123_4567_89AB_CDEF,
                        packet: .data(NativeDataSegment(segment: 0, timestamp: 0, payload: 24..<65_024)))))
    }

    @Test("OFFER name lengths outside 1...4096")
    func nameLengths() throws {
        #expect(decode(frame(type: 1, body: offerBody(name: []))) == .failure(.nameLengthOutOfRange(length: 0)))
        let long = [UInt8](repeating: 0x61, count: 4097)
        #expect(decode(frame(type: 1, body: offerBody(name: long))) == .failure(.nameLengthOutOfRange(length: 4097)))
        // A huge declared length is refused before it is compared with what is there.
        #expect(
            decode(frame(type: 1, body: offerBody(name: [0x61], declaredLength: 0xFFFF)))
                == .failure(.nameLengthOutOfRange(length: 0xFFFF)))
        let longest = try decode(frame(type: 1, body: offerBody(name: Array(long.dropLast())))).get()
        guard case .offer(let offer) = longest.packet else { throw Failure.notAnOffer }
        #expect(offer.name == String(repeating: "a", count: 4096))
    }

    @Test("texts over 1024 bytes")
    func textLengths() throws {
        let long = [UInt8](repeating: 0x61, count: 1025)
        #expect(decode(frame(type: 3, body: cat(u16(1), u16(1025), long))) == .failure(.textTooLong(length: 1025)))
        #expect(decode(frame(type: 8, body: cat(u16(1), u16(0xFFFF)))) == .failure(.textTooLong(length: 0xFFFF)))
        #expect(
            decode(frame(type: 6, body: cat([0], helloDigest.bytes, u16(1025), long)))
                == .failure(.textTooLong(length: 1025)))
        let longest = try decode(frame(type: 3, body: cat(u16(1), u16(1024), Array(long.dropLast())))).get()
        #expect(
            longest.packet == .reject(NativeRejection(reason: .tooLarge, text: String(repeating: "a", count: 1024))))
    }

    @Test(
        "names and texts that are not UTF-8",
        arguments: [
            [0xFF], [0x80], [0xC0, 0x80], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0x61, 0xF8, 0x88, 0x80, 0x80, 0x80], [0x61, 0x62, 0xFE],
        ] as [[UInt8]])
    func invalidUTF8(_ bytes: [UInt8]) {
        #expect(decode(frame(type: 1, body: offerBody(name: bytes))) == .failure(.invalidUTF8))
        #expect(decode(frame(type: 3, body: cat(u16(1), u16(UInt16(bytes.count)), bytes))) == .failure(.invalidUTF8))
        #expect(decode(frame(type: 8, body: cat(u16(1), u16(UInt16(bytes.count)), bytes))) == .failure(.invalidUTF8))
        #expect(
            decode(frame(type: 6, body: cat([0], helloDigest.bytes, u16(UInt16(bytes.count)), bytes)))
                == .failure(.invalidUTF8))
    }

    @Test("ACCEPT's alreadyComplete is 0 or 1")
    func alreadyComplete() {
        for value: UInt8 in [2, 0x80, 0xFF] {
            #expect(
                decode(frame(type: 2, body: cat(u64(0), u32(0), [value]))) == .failure(.invalidAlreadyComplete(value)))
        }
    }

    @Test("more than 16 SACK ranges")
    func tooManySACKRanges() {
        let fixed = cat(u64(0), u32(0), u32(0))
        #expect(decode(frame(type: 5, body: cat(fixed, [17]))) == .failure(.tooManySACKRanges(count: 17)))
        #expect(decode(frame(type: 5, body: cat(fixed, [255]))) == .failure(.tooManySACKRanges(count: 255)))
        let seventeen = (UInt64(0)..<17).flatMap { (i: UInt64) -> [UInt8] in cat(u64(2 * i + 1), u64(2 * i + 2)) }
        #expect(decode(frame(type: 5, body: cat(fixed, [17], seventeen))) == .failure(.tooManySACKRanges(count: 17)))
    }

    @Test("SACK ranges that are empty, reversed, below the cumulative point, overlapping or out of order")
    func invalidSACKRanges() {
        func ack(_ cumulative: UInt64, _ ranges: [(UInt64, UInt64)]) -> Result<NativeDatagram, NativeDecodingError> {
            let body = cat(
                u64(cumulative), u32(8), u32(9), [UInt8(ranges.count)], ranges.flatMap { cat(u64($0.0), u64($0.1)) })
            return decode(frame(type: 5, body: body))
        }
        #expect(ack(10, [(12, 12)]) == .failure(.invalidSACKRange(index: 0)))
        #expect(ack(10, [(15, 12)]) == .failure(.invalidSACKRange(index: 0)))
        #expect(ack(0, [(.max, 0)]) == .failure(.invalidSACKRange(index: 0)))
        #expect(ack(10, [(9, 12)]) == .failure(.invalidSACKRange(index: 0)))
        #expect(ack(.max, [(.max - 1, .max)]) == .failure(.invalidSACKRange(index: 0)))
        #expect(ack(10, [(12, 15), (14, 20)]) == .failure(.invalidSACKRange(index: 1)))
        #expect(ack(10, [(20, 25), (12, 15)]) == .failure(.invalidSACKRange(index: 1)))
        #expect(ack(10, [(12, 15), (12, 15)]) == .failure(.invalidSACKRange(index: 1)))
        #expect(ack(10, [(12, 15), (17, 18), (19, 19)]) == .failure(.invalidSACKRange(index: 2)))
        // Valid edges: starting at the cumulative point, touching, reaching UInt64.max.
        #expect((try? ack(10, [(10, 12), (12, 15), (20, .max)]).get()) != nil)
    }

    // MARK: Robustness

    @Test("every single-bit flip of every sample is rejected")
    func bitFlips() {
        let packets = encodedSamples.filter { $0.count <= 2_000 } + Self.vectors.map(\.packet)
        #expect(packets.count > 40)
        for packet in packets {
            for bit in 0..<packet.count * 8 {
                var damaged = packet
                damaged[bit / 8] ^= UInt8(1 << (bit % 8))
                if case .success(let decoded) = decode(damaged) {
                    Issue.record("bit \(bit) of \(packet.count)-byte packet flipped went undetected: \(decoded)")
                }
            }
        }
    }

    @Test("every proper prefix of every valid datagram is rejected")
    func truncations() {
        let packets = encodedSamples + Self.vectors.map(\.packet)
        for packet in packets {
            packet.withUnsafeBytes { buffer in
                // Beyond a few hundred bytes, sample the lengths: the large DATA sample would
                // otherwise take quadratic time.
                for length in 0..<packet.count where length < 600 || length % 997 == 0 || packet.count - length < 40 {
                    if (try? NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: buffer[..<length]))) != nil {
                        Issue.record("the first \(length) of \(packet.count) bytes decoded")
                    }
                }
            }
        }
    }

    @Test("100,000 random datagrams never crash, and whatever decodes re-encodes identically")
    func randomDatagrams() {
        var random = SplitMix64(seed: 0x5032_0001)
        let seeds = encodedSamples.filter { $0.count <= 2_000 } + Self.vectors.map(\.packet)
        var decodedCount = 0
        var errors: [String: Int] = [:]
        for round in 0..<100_000 {
            var bytes: [UInt8]
            switch round % 4 {
            case 0:
                // Pure noise, mostly short.
                let length = Int.random(in: 0...(random.next() % 8 == 0 ? 300 : 40), using: &random)
                bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            case 1:
                // Noise behind a valid header and CRC, so the body checks run.
                let length = Int.random(in: 0...80, using: &random)
                let body = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &random) }
                bytes = frame(type: UInt8.random(in: 0...9, using: &random), body: body, transferID: random.next())
            default:
                // A valid datagram with a few bytes changed, cut or lengthened, CRC fixed up
                // half the time.
                bytes = seeds[Int.random(in: 0..<seeds.count, using: &random)]
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    switch random.next() % 4 {
                    case 0 where bytes.count > 16:
                        bytes.removeLast(Int.random(in: 1...min(20, bytes.count - 16), using: &random))
                    case 1:
                        bytes.append(
                            contentsOf: (0..<Int.random(in: 1...20, using: &random)).map { _ in
                                UInt8.random(in: .min ... .max, using: &random)
                            })
                    default:
                        if !bytes.isEmpty {
                            bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(
                                in: .min ... .max, using: &random)
                        }
                    }
                }
                if round % 8 >= 4, bytes.count >= 16 {
                    bytes.removeLast(4)
                    bytes.appendBigEndian(bytes.withUnsafeBytes { CRC32C.compute($0) })
                }
            }
            switch decode(bytes) {
            case .success(let datagram):
                decodedCount += 1
                let reencoded = encode(datagram, payloadSource: bytes)
                if reencoded != bytes {
                    Issue.record("round \(round): decoded \(datagram) but re-encodes differently")
                }
            case .failure(let error):
                errors["\(error)".prefix { $0 != "(" }.description, default: 0] += 1
            }
        }
        // The mutations reach deep into the decoder: most error kinds occur and some decode.
        #expect(decodedCount > 100)
        #expect(errors.count >= 10, "\(errors)")
    }

    enum Failure: Error { case notAnOffer }
}
