// Encoding and decoding of the secure envelope's clear parts. Layouts in SecurePacket.swift
// and docs/PROTOCOL.md. No cryptography here: sealed parts are ranges, sealed and opened by
// P2MPSecurity; keys, cookies and signatures are ranges of the datagram (no allocation).

extension SecureDatagram {
    // MARK: Decoding

    /// Reads the header. Checks the length (at least 12 bytes), magic, version and type, not
    /// the rest: a receiver routes on it before it decodes or opens anything.
    public static func peekHeader(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureHeader {
        guard bytes.count >= headerSize else { throw .truncated(length: bytes.count) }
        let receivedMagic = bytes.loadBigEndianUInt16(at: 0)
        guard receivedMagic == magic else { throw .badMagic(receivedMagic) }
        guard bytes[2] == version else { throw .unsupportedVersion(bytes[2]) }
        guard let type = SecureMessageType(rawValue: bytes[3]) else { throw .unknownType(bytes[3]) }
        return SecureHeader(type: type, session: bytes.loadBigEndianUInt64(at: 4))
    }

    /// The header, checked to be of `type` and exactly `length` bytes long (or, when
    /// `length` is a range, a length in it).
    private static func header(
        _ bytes: UnsafeRawBufferPointer, _ type: SecureMessageType, length: ClosedRange<Int>
    ) throws(SecureDecodingError) -> SecureHeader {
        let header = try peekHeader(bytes)
        guard header.type == type, length.contains(bytes.count) else {
            throw .wrongLength(type: type, length: bytes.count)
        }
        return header
    }

    /// INITIATE: exactly 256 bytes; a cookie flag of 0 (and 16 zero bytes) or 1 (and the
    /// cookie); zero padding to the end.
    public static func decodeInitiate(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureInitiate {
        let header = try header(bytes, .initiate, length: initiateSize...initiateSize)
        let cookieRange = initiateCookieOffset..<initiatePaddingOffset
        let cookie: Range<Int>?
        switch bytes[initiateCookieFlagOffset] {
        case 0:
            guard isZero(bytes, cookieRange) else { throw .invalidCookieField }
            cookie = nil
        case 1: cookie = cookieRange
        default: throw .invalidCookieField
        }
        guard isZero(bytes, initiatePaddingOffset..<initiateSize) else { throw .nonZeroPadding }
        return SecureInitiate(
            initiatorSession: header.session, ephemeralKey: initiateEphemeralOffset..<initiateCookieFlagOffset,
            cookie: cookie)
    }

    public static func decodeRetry(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureRetry {
        let header = try header(bytes, .retry, length: retrySize...retrySize)
        return SecureRetry(initiatorSession: header.session, cookie: headerSize..<retrySize)
    }

    public static func decodeResponse(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureResponse {
        let header = try header(bytes, .response, length: responseSize...responseSize)
        return SecureResponse(
            initiatorSession: header.session, responderSession: bytes.loadBigEndianUInt64(at: headerSize),
            ephemeralKey: headerSize + 8..<responseClearSize, sealedProof: responseClearSize..<responseSize)
    }

    public static func decodeConfirm(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureConfirm {
        let header = try header(bytes, .confirm, length: confirmSize...confirmSize)
        return SecureConfirm(responderSession: header.session, sealedProof: headerSize..<confirmSize)
    }

    public static func decodeDone(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureDone {
        let header = try header(bytes, .done, length: headerSize + doneFixedSize + tagSize...maximumDoneSize)
        return SecureDone(initiatorSession: header.session, sealedVerdict: headerSize..<bytes.count)
    }

    /// SEALED: the header, the counter, and at least a tag. Only lengths are checked: the
    /// session id and counter are for the cheap checks that come before the AEAD.
    public static func decodeSealed(_ bytes: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureSealed {
        let header = try header(bytes, .sealed, length: sealedOverhead...maximumSealedSize)
        return SecureSealed(
            receiverSession: header.session, counter: bytes.loadBigEndianUInt64(at: headerSize),
            sealed: sealedHeaderSize..<bytes.count)
    }

    /// The plaintext of a sealed proof, exactly 128 bytes.
    public static func decodeProof(_ plaintext: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureProof {
        guard plaintext.count == proofSize else { throw .truncated(length: plaintext.count) }
        return SecureProof(
            identityKey: 0..<keySize, signature: keySize..<keySize + signatureSize,
            finished: keySize + signatureSize..<proofSize)
    }

    /// The plaintext of DONE: status 0 or 1, rights, text length, that much UTF-8.
    public static func decodeVerdict(_ plaintext: UnsafeRawBufferPointer) throws(SecureDecodingError) -> SecureVerdict {
        guard plaintext.count >= doneFixedSize,
            let status = SecureVerdict.Status(rawValue: plaintext[0]),
            Int(plaintext[2]) == plaintext.count - doneFixedSize,
            plaintext.count - doneFixedSize <= maximumDoneTextLength
        else { throw .invalidVerdict }
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: plaintext[doneFixedSize...]), as: UTF8.self)
        else { throw .invalidUTF8 }
        return SecureVerdict(status: status, rights: plaintext[1], text: text)
    }

    private static func isZero(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var any: UInt8 = 0
        for index in range { any |= bytes[index] }
        return any == 0
    }

    // MARK: Encoding

    /// Writes the 12-byte header at the start of `destination`.
    public static func writeHeader(_ header: SecureHeader, to destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count >= headerSize, "secure header destination too small")
        destination.storeBytes(of: magic.bigEndian, toByteOffset: 0, as: UInt16.self)
        destination[2] = version
        destination[3] = header.type.rawValue
        destination.storeBytes(of: header.session.bigEndian, toByteOffset: 4, as: UInt64.self)
    }

    /// Writes a complete INITIATE (256 bytes, padding included) and returns its size.
    /// `ephemeralKey` is 32 bytes and `cookie`, when present, 16 (checked).
    public static func writeInitiate(
        initiatorSession: UInt64, ephemeralKey: UnsafeRawBufferPointer, cookie: UnsafeRawBufferPointer?,
        to destination: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(ephemeralKey.count == keySize && (cookie?.count ?? cookieSize) == cookieSize)
        precondition(destination.count >= initiateSize, "INITIATE destination too small")
        let message = UnsafeMutableRawBufferPointer(rebasing: destination[..<initiateSize])
        message.initializeMemory(as: UInt8.self, repeating: 0)
        writeHeader(SecureHeader(type: .initiate, session: initiatorSession), to: message)
        copy(ephemeralKey, to: message, at: initiateEphemeralOffset)
        if let cookie {
            message[initiateCookieFlagOffset] = 1
            copy(cookie, to: message, at: initiateCookieOffset)
        }
        return initiateSize
    }

    /// Writes a complete RETRY and returns its size. `cookie` is 16 bytes (checked).
    public static func writeRetry(
        initiatorSession: UInt64, cookie: UnsafeRawBufferPointer, to destination: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(cookie.count == cookieSize && destination.count >= retrySize, "RETRY sizes")
        writeHeader(SecureHeader(type: .retry, session: initiatorSession), to: destination)
        copy(cookie, to: destination, at: headerSize)
        return retrySize
    }

    /// Writes RESPONSE's clear part (52 bytes); the sealed proof follows it.
    public static func writeResponseClear(
        initiatorSession: UInt64, responderSession: UInt64, ephemeralKey: UnsafeRawBufferPointer,
        to destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(ephemeralKey.count == keySize && destination.count >= responseClearSize, "RESPONSE sizes")
        writeHeader(SecureHeader(type: .response, session: initiatorSession), to: destination)
        destination.storeBytes(of: responderSession.bigEndian, toByteOffset: headerSize, as: UInt64.self)
        copy(ephemeralKey, to: destination, at: headerSize + 8)
    }

    /// Writes SEALED's clear part (20 bytes); ciphertext and tag follow it.
    public static func writeSealedHeader(
        receiverSession: UInt64, counter: UInt64, to destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(destination.count >= sealedHeaderSize, "SEALED header destination too small")
        writeHeader(SecureHeader(type: .sealed, session: receiverSession), to: destination)
        destination.storeBytes(of: counter.bigEndian, toByteOffset: headerSize, as: UInt64.self)
    }

    /// Appends a proof's plaintext: identity key (32), signature (64), Finished (32).
    public static func appendProof(
        identityKey: some Collection<UInt8>, signature: some Collection<UInt8>, finished: some Collection<UInt8>,
        to buffer: inout [UInt8]
    ) {
        precondition(
            identityKey.count == keySize && signature.count == signatureSize && finished.count == finishedSize,
            "proof field sizes")
        buffer.append(contentsOf: identityKey)
        buffer.append(contentsOf: signature)
        buffer.append(contentsOf: finished)
    }

    /// Appends a verdict's plaintext; a text over 120 bytes is cut at a Unicode scalar boundary.
    public static func appendVerdict(_ verdict: SecureVerdict, to buffer: inout [UInt8]) {
        var text = Array(verdict.text.utf8)
        if text.count > maximumDoneTextLength {
            var length = maximumDoneTextLength
            while length > 0, text[length] & 0xC0 == 0x80 { length -= 1 }
            text.removeSubrange(length...)
        }
        buffer.append(verdict.status.rawValue)
        buffer.append(verdict.rights)
        buffer.append(UInt8(text.count))
        buffer.append(contentsOf: text)
    }

    private static func copy(
        _ source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawBufferPointer, at offset: Int
    ) {
        UnsafeMutableRawBufferPointer(rebasing: destination[offset..<offset + source.count]).copyMemory(from: source)
    }
}
