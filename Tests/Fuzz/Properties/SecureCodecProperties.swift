import P2MPWire

/// The secure envelope's codecs (docs/PROTOCOL.md, "Secure envelope"): the handshake messages
/// INITIATE, RETRY, RESPONSE, CONFIRM and DONE, SEALED, and the two plaintexts carried
/// sealed (a proof, a verdict). Each input is used three ways:
///
/// 1. as a datagram, through every decoder: none depends on bytes past the input; every
///    message decoder fails as `peekHeader` does when the header is bad, at most one accepts
///    the datagram, the one of the type `peekHeader` reads, with its session id; an accepted
///    datagram encodes back to exactly its bytes (the format is canonical), and so do an
///    accepted proof and verdict;
/// 2. the same after giving it a valid header and a length its type allows (and the
///    plaintexts a proof's length and a verdict's text length), so mutations reach the body
///    checks: INITIATE decodes exactly when its cookie flag, absent cookie and padding are as
///    documented, a verdict exactly when its text is UTF-8, every other message always;
/// 3. as the choices that build each message and each plaintext: it decodes to what was
///    written, re-encodes to the same bytes, and one byte more or less does not decode
///    unless its type allows that length.
enum SecureCodecProperties {
    /// What a datagram decoded to.
    enum Message: Equatable {
        case initiate(SecureInitiate)
        case retry(SecureRetry)
        case response(SecureResponse)
        case confirm(SecureConfirm)
        case done(SecureDone)
        case sealed(SecureSealed)

        var session: UInt64 {
            switch self {
            case .initiate(let message): message.initiatorSession
            case .retry(let message): message.initiatorSession
            case .response(let message): message.initiatorSession
            case .confirm(let message): message.responderSession
            case .done(let message): message.initiatorSession
            case .sealed(let message): message.receiverSession
            }
        }

        var type: SecureMessageType {
            switch self {
            case .initiate: .initiate
            case .retry: .retry
            case .response: .response
            case .confirm: .confirm
            case .done: .done
            case .sealed: .sealed
            }
        }
    }

    /// Everything the codec makes of one input.
    struct Decodings: Equatable {
        var header: Result<SecureHeader, SecureDecodingError>
        /// One per message type, in `SecureMessageType.allCases` order.
        var messages: [Result<Message, SecureDecodingError>]
        var proof: Result<SecureProof, SecureDecodingError>
        var verdict: Result<SecureVerdict, SecureDecodingError>
    }

    /// INITIATE's layout, from the documented sizes: ephemeral key, cookie flag, cookie, padding.
    static let initiateFlagOffset = SecureDatagram.headerSize + SecureDatagram.keySize
    static let initiateCookie = initiateFlagOffset + 1..<initiateFlagOffset + 1 + SecureDatagram.cookieSize

    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        try checkDecoding(bytes)
        if let (type, shaped) = shapedDatagram(bytes) { try checkShaped(shaped, type: type) }
        try checkShapedPlaintexts(bytes)
        var input = FuzzInput(bytes)
        try checkRoundTrip(&input)
        try checkVerdictRoundTrip(&input)
    }

    // MARK: - 1. Any bytes

    /// The lengths a message of `type` may have.
    static func lengths(of type: SecureMessageType) -> ClosedRange<Int> {
        switch type {
        case .initiate: SecureDatagram.initiateSize...SecureDatagram.initiateSize
        case .retry: SecureDatagram.retrySize...SecureDatagram.retrySize
        case .response: SecureDatagram.responseSize...SecureDatagram.responseSize
        case .confirm: SecureDatagram.confirmSize...SecureDatagram.confirmSize
        case .done:
            SecureDatagram.headerSize + SecureDatagram.doneFixedSize + SecureDatagram.tagSize...SecureDatagram.maximumDoneSize
        case .sealed: SecureDatagram.sealedOverhead...SecureDatagram.maximumSealedSize
        }
    }

    static func decodeMessage(_ type: SecureMessageType, _ bytes: UnsafeRawBufferPointer) -> Result<Message, SecureDecodingError> {
        Result { () throws(SecureDecodingError) -> Message in
            switch type {
            case .initiate: .initiate(try SecureDatagram.decodeInitiate(bytes))
            case .retry: .retry(try SecureDatagram.decodeRetry(bytes))
            case .response: .response(try SecureDatagram.decodeResponse(bytes))
            case .confirm: .confirm(try SecureDatagram.decodeConfirm(bytes))
            case .done: .done(try SecureDatagram.decodeDone(bytes))
            case .sealed: .sealed(try SecureDatagram.decodeSealed(bytes))
            }
        }
    }

    /// Decodes `bytes` every way from a buffer of exactly their size or, with `padding`, from
    /// the start of a larger buffer whose remaining bytes all hold `padding`.
    static func decodeAll(_ bytes: [UInt8], padding: UInt8? = nil) -> Decodings {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + (padding == nil ? 0 : 64), alignment: 1)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: padding ?? 0)
        buffer.copyBytes(from: bytes)
        let exact = UnsafeRawBufferPointer(rebasing: buffer[0..<bytes.count])
        return Decodings(
            header: Result { () throws(SecureDecodingError) in try SecureDatagram.peekHeader(exact) },
            messages: SecureMessageType.allCases.map { decodeMessage($0, exact) },
            proof: Result { () throws(SecureDecodingError) in try SecureDatagram.decodeProof(exact) },
            verdict: Result { () throws(SecureDecodingError) in try SecureDatagram.decodeVerdict(exact) })
    }

    static func checkDecoding(_ bytes: [UInt8]) throws(PropertyViolation) {
        let decodings = decodeAll(bytes)
        for padding: UInt8 in [0x00, 0xFF] {
            try require(decodeAll(bytes, padding: padding) == decodings, "decoding read past the end: \(hex(bytes))")
        }
        switch decodings.header {
        case .failure(let error):
            if case .truncated(let length) = error {
                try require(length == bytes.count && length < SecureDatagram.headerSize, "wrong truncated length \(length)")
            }
            for result in decodings.messages {
                try require(result == .failure(error), "peekHeader fails with \(error) but a decoder gives \(result)")
            }
        case .success(let header):
            for (type, result) in zip(SecureMessageType.allCases, decodings.messages) {
                guard case .success(let message) = result else { continue }
                try require(
                    type == header.type && message.type == type && message.session == header.session,
                    "peekHeader reads \(header) but \(type)'s decoder accepts \(message)")
                let encoded = encode(message, from: bytes)
                try require(encoded == bytes, "not canonical: \(hex(bytes)) decodes to \(message), which encodes as \(hex(encoded))")
            }
        }
        if case .success(let proof) = decodings.proof {
            var encoded: [UInt8] = []
            SecureDatagram.appendProof(
                identityKey: bytes[proof.identityKey], signature: bytes[proof.signature], finished: bytes[proof.finished],
                to: &encoded)
            try require(encoded == bytes, "proof not canonical: \(hex(bytes)) encodes as \(hex(encoded))")
        }
        if case .success(let verdict) = decodings.verdict {
            var encoded: [UInt8] = []
            SecureDatagram.appendVerdict(verdict, to: &encoded)
            try require(encoded == bytes, "verdict not canonical: \(hex(bytes)) decodes to \(verdict), encodes as \(hex(encoded))")
        }
    }

    /// Writes `message` with the writers of P2MPWire, taking its keys, cookie and sealed
    /// parts from the datagram it was decoded from and putting them where the format says,
    /// into a buffer filled with junk first (so a byte a writer leaves out shows).
    static func encode(_ message: Message, from bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0xA5, count: max(bytes.count, SecureDatagram.initiateSize))
        let size = output.withUnsafeMutableBytes { destination -> Int in
            func append(_ range: Range<Int>, at offset: Int) -> Int {
                for (index, byte) in bytes[range].enumerated() { destination[offset + index] = byte }
                return offset + range.count
            }
            switch message {
            case .initiate(let initiate):
                return Array(bytes[initiate.ephemeralKey]).withUnsafeBytes { key in
                    guard let cookie = initiate.cookie else {
                        return SecureDatagram.writeInitiate(
                            initiatorSession: initiate.initiatorSession, ephemeralKey: key, cookie: nil, to: destination)
                    }
                    return Array(bytes[cookie]).withUnsafeBytes {
                        SecureDatagram.writeInitiate(
                            initiatorSession: initiate.initiatorSession, ephemeralKey: key, cookie: $0, to: destination)
                    }
                }
            case .retry(let retry):
                return Array(bytes[retry.cookie]).withUnsafeBytes {
                    SecureDatagram.writeRetry(initiatorSession: retry.initiatorSession, cookie: $0, to: destination)
                }
            case .response(let response):
                Array(bytes[response.ephemeralKey]).withUnsafeBytes {
                    SecureDatagram.writeResponseClear(
                        initiatorSession: response.initiatorSession, responderSession: response.responderSession,
                        ephemeralKey: $0, to: destination)
                }
                return append(response.sealedProof, at: SecureDatagram.responseClearSize)
            case .confirm(let confirm):
                SecureDatagram.writeHeader(SecureHeader(type: .confirm, session: confirm.responderSession), to: destination)
                return append(confirm.sealedProof, at: SecureDatagram.headerSize)
            case .done(let done):
                SecureDatagram.writeHeader(SecureHeader(type: .done, session: done.initiatorSession), to: destination)
                return append(done.sealedVerdict, at: SecureDatagram.headerSize)
            case .sealed(let sealed):
                SecureDatagram.writeSealedHeader(receiverSession: sealed.receiverSession, counter: sealed.counter, to: destination)
                return append(sealed.sealed, at: SecureDatagram.sealedHeaderSize)
            }
        }
        return Array(output[..<size])
    }

    // MARK: - 2. Shaped to reach the bodies

    /// `bytes` with a valid header of the type its fourth byte picks, cut or zero-padded to
    /// the nearest length that type allows.
    static func shapedDatagram(_ bytes: [UInt8]) -> (SecureMessageType, [UInt8])? {
        guard bytes.count >= 4 else { return nil }
        let type = SecureMessageType.allCases[Int(bytes[3]) % SecureMessageType.allCases.count]
        let allowed = lengths(of: type)
        let length = min(max(bytes.count, allowed.lowerBound), allowed.upperBound)
        var shaped = Array(bytes.prefix(length)) + [UInt8](repeating: 0, count: max(0, length - bytes.count))
        shaped.replaceSubrange(0..<4, with: [0x50, 0x32, SecureDatagram.version, type.rawValue])
        return (type, shaped)
    }

    static func checkShaped(_ bytes: [UInt8], type: SecureMessageType) throws(PropertyViolation) {
        try checkDecoding(bytes)
        let decoded = bytes.withUnsafeBytes { decodeMessage(type, $0) }
        var expected = true
        if type == .initiate {
            let flag = bytes[initiateFlagOffset]
            let cookieIsZero = bytes[initiateCookie].allSatisfy { $0 == 0 }
            let paddingIsZero = bytes[initiateCookie.upperBound...].allSatisfy { $0 == 0 }
            expected = (flag == 1 || (flag == 0 && cookieIsZero)) && paddingIsZero
        }
        try require(
            ((try? decoded.get()) != nil) == expected,
            "\(type) of a valid length \(expected ? "refused" : "accepted"): \(decoded), \(hex(bytes))")
    }

    /// The input as a proof (cut or padded to its size) and as a verdict (status 0 or 1, a
    /// text length of at most 120 and that many bytes): the proof decodes, the verdict
    /// exactly when its text is UTF-8.
    static func checkShapedPlaintexts(_ bytes: [UInt8]) throws(PropertyViolation) {
        let proof = Array(bytes.prefix(SecureDatagram.proofSize))
            + [UInt8](repeating: 0, count: max(0, SecureDatagram.proofSize - bytes.count))
        try checkDecoding(proof)
        try require(proof.withUnsafeBytes { (try? SecureDatagram.decodeProof($0)) != nil }, "a proof of 128 bytes is refused")
        guard bytes.count >= SecureDatagram.doneFixedSize else { return }
        let textLength = min(Int(bytes[2]), SecureDatagram.maximumDoneTextLength, bytes.count - SecureDatagram.doneFixedSize)
        var verdict = Array(bytes.prefix(SecureDatagram.doneFixedSize + textLength))
        verdict[0] &= 1
        verdict[2] = UInt8(textLength)
        try checkDecoding(verdict)
        let isText = String(validating: verdict[SecureDatagram.doneFixedSize...], as: UTF8.self) != nil
        let decoded = verdict.withUnsafeBytes { (try? SecureDatagram.decodeVerdict($0)) != nil }
        try require(decoded == isText, "verdict \(hex(verdict)) \(decoded ? "accepted" : "refused")")
    }

    // MARK: - 3. Built from choices

    static func checkRoundTrip(_ input: inout FuzzInput) throws(PropertyViolation) {
        let type = SecureMessageType.allCases[Int(input.byte()) % SecureMessageType.allCases.count]
        let session = input.integer(UInt64.self)
        var written = [UInt8](repeating: 0, count: lengths(of: type).upperBound)
        /// The fields the choices wrote, as `fields(of:in:)` reads them back.
        var expected: [[UInt8]] = [bigEndian(session)]
        let size: Int = written.withUnsafeMutableBytes { destination in
            switch type {
            case .initiate:
                let key = input.bytes(exactly: SecureDatagram.keySize)
                let cookie = input.boolean() ? input.bytes(exactly: SecureDatagram.cookieSize) : nil
                expected += [key, cookie ?? [], [cookie == nil ? 0 : 1]]
                return key.withUnsafeBytes { key in
                    guard let cookie else {
                        return SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: key, cookie: nil, to: destination)
                    }
                    return cookie.withUnsafeBytes {
                        SecureDatagram.writeInitiate(initiatorSession: session, ephemeralKey: key, cookie: $0, to: destination)
                    }
                }
            case .retry:
                let cookie = input.bytes(exactly: SecureDatagram.cookieSize)
                expected.append(cookie)
                return cookie.withUnsafeBytes { SecureDatagram.writeRetry(initiatorSession: session, cookie: $0, to: destination) }
            case .response:
                let responder = input.integer(UInt64.self)
                let key = input.bytes(exactly: SecureDatagram.keySize)
                key.withUnsafeBytes {
                    SecureDatagram.writeResponseClear(
                        initiatorSession: session, responderSession: responder, ephemeralKey: $0, to: destination)
                }
                let end = fill(destination, from: SecureDatagram.responseClearSize, to: SecureDatagram.responseSize, &input)
                expected += [bigEndian(responder), key, Array(destination[SecureDatagram.responseClearSize..<end])]
                return end
            case .confirm:
                SecureDatagram.writeHeader(SecureHeader(type: .confirm, session: session), to: destination)
                let end = fill(destination, from: SecureDatagram.headerSize, to: SecureDatagram.confirmSize, &input)
                expected.append(Array(destination[SecureDatagram.headerSize..<end]))
                return end
            case .done:
                let allowed = lengths(of: .done)
                SecureDatagram.writeHeader(SecureHeader(type: .done, session: session), to: destination)
                let end = fill(destination, from: SecureDatagram.headerSize, to: allowed.lowerBound + input.count(upTo: allowed.count - 1), &input)
                expected.append(Array(destination[SecureDatagram.headerSize..<end]))
                return end
            case .sealed:
                let counter = input.integer(UInt64.self)
                let allowed = lengths(of: .sealed)
                SecureDatagram.writeSealedHeader(receiverSession: session, counter: counter, to: destination)
                let end = fill(
                    destination, from: SecureDatagram.sealedHeaderSize, to: allowed.lowerBound + input.count(upTo: allowed.count - 1),
                    &input)
                expected += [bigEndian(counter), Array(destination[SecureDatagram.sealedHeaderSize..<end])]
                return end
            }
        }
        let encoded = Array(written[..<size])
        guard case .success(let decoded) = encoded.withUnsafeBytes({ decodeMessage(type, $0) }) else {
            throw PropertyViolation("a \(type) written as \(hex(encoded)) does not decode")
        }
        try require(
            decoded.type == type && fields(of: decoded, in: encoded) == expected,
            "\(type) written as \(hex(encoded)) decodes as \(decoded)")
        try require(encode(decoded, from: encoded) == encoded, "re-encoding \(decoded) changed its bytes")
        for changed in [Array(encoded.dropLast()), encoded + [input.byte()]] {
            let accepted = changed.withUnsafeBytes { (try? decodeMessage(type, $0).get()) != nil }
            try require(
                accepted == lengths(of: type).contains(changed.count),
                "\(type) of \(changed.count) bytes \(accepted ? "accepted" : "refused")")
        }
    }

    /// The values of `message`'s fields: its session id, then what follows in the datagram
    /// (an INITIATE's cookie as its bytes, or none, then its flag).
    static func fields(of message: Message, in bytes: [UInt8]) -> [[UInt8]] {
        var fields = [bigEndian(message.session)]
        switch message {
        case .initiate(let initiate):
            fields += [Array(bytes[initiate.ephemeralKey]), initiate.cookie.map { Array(bytes[$0]) } ?? [], [initiate.cookie == nil ? 0 : 1]]
        case .retry(let retry): fields.append(Array(bytes[retry.cookie]))
        case .response(let response):
            fields += [bigEndian(response.responderSession), Array(bytes[response.ephemeralKey]), Array(bytes[response.sealedProof])]
        case .confirm(let confirm): fields.append(Array(bytes[confirm.sealedProof]))
        case .done(let done): fields.append(Array(bytes[done.sealedVerdict]))
        case .sealed(let sealed): fields += [bigEndian(sealed.counter), Array(bytes[sealed.sealed])]
        }
        return fields
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    /// Fills `destination[start..<end]` from the input (zeros once it runs out); returns `end`.
    static func fill(_ destination: UnsafeMutableRawBufferPointer, from start: Int, to end: Int, _ input: inout FuzzInput) -> Int {
        for index in start..<end { destination[index] = input.byte() }
        return end
    }

    /// A verdict and a proof built from choices decode to what was written (a text over 120
    /// bytes cut at a scalar boundary) and re-encode to the same bytes.
    static func checkVerdictRoundTrip(_ input: inout FuzzInput) throws(PropertyViolation) {
        let status: SecureVerdict.Status = input.boolean() ? .refused : .accepted
        let verdict = SecureVerdict(status: status, rights: input.byte(), text: input.longText())
        var encoded: [UInt8] = []
        SecureDatagram.appendVerdict(verdict, to: &encoded)
        let expected = SecureVerdict(
            status: status, rights: verdict.rights,
            text: NativeCodecProperties.cut(verdict.text, toBytes: SecureDatagram.maximumDoneTextLength))
        let decoded = encoded.withUnsafeBytes { bytes in
            Result { () throws(SecureDecodingError) in try SecureDatagram.decodeVerdict(bytes) }
        }
        try require(decoded == .success(expected), "\(verdict) was written as \(hex(encoded)), which decodes as \(decoded)")
        try checkDecoding(encoded)

        let parts = [SecureDatagram.keySize, SecureDatagram.signatureSize, SecureDatagram.finishedSize].map {
            input.bytes(exactly: $0)
        }
        var proof: [UInt8] = []
        SecureDatagram.appendProof(identityKey: parts[0], signature: parts[1], finished: parts[2], to: &proof)
        guard let opened = proof.withUnsafeBytes({ try? SecureDatagram.decodeProof($0) }) else {
            throw PropertyViolation("a written proof does not decode: \(hex(proof))")
        }
        try require(
            Array(proof[opened.identityKey]) == parts[0] && Array(proof[opened.signature]) == parts[1]
                && Array(proof[opened.finished]) == parts[2],
            "a proof's parts came back changed")
    }
}
