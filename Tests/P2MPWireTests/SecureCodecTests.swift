import P2MPWire
import Testing

@Suite struct SecureCodecTests {
    static func initiate(cookie: [UInt8]?) -> [UInt8] {
        var datagram = [UInt8](repeating: 0xEE, count: 300)
        let key = [UInt8](repeating: 0x11, count: 32)
        let size = datagram.withUnsafeMutableBytes { datagram in
            key.withUnsafeBytes { key in
                if let cookie {
                    cookie.withUnsafeBytes {
                        SecureDatagram.writeInitiate(initiatorSession: 42, ephemeralKey: key, cookie: $0, to: datagram)
                    }
                } else {
                    SecureDatagram.writeInitiate(initiatorSession: 42, ephemeralKey: key, cookie: nil, to: datagram)
                }
            }
        }
        return Array(datagram[..<size])
    }

    static func decodeInitiate(_ bytes: [UInt8]) -> Result<SecureInitiate, SecureDecodingError> {
        bytes.withUnsafeBytes { bytes in Result { () throws(SecureDecodingError) in try SecureDatagram.decodeInitiate(bytes) } }
    }

    @Test func initiateRoundTripsWithAndWithoutCookie() throws {
        let plain = Self.initiate(cookie: nil)
        #expect(plain.count == 256 && plain[..<4] == [0x50, 0x32, 0x02, 0x01])
        let decoded = try Self.decodeInitiate(plain).get()
        #expect(decoded.initiatorSession == 42 && decoded.cookie == nil && decoded.ephemeralKey == 12..<44)
        let withCookie = Self.initiate(cookie: Array(1...16))
        let cookie = try #require(try Self.decodeInitiate(withCookie).get().cookie)
        #expect(Array(withCookie[cookie]) == Array(1...16))
    }

    @Test func initiateRejectsPaddingCookieFieldAndLengthErrors() {
        var padded = Self.initiate(cookie: nil)
        padded[200] = 1
        #expect(Self.decodeInitiate(padded) == .failure(.nonZeroPadding))
        var flag = Self.initiate(cookie: nil)
        flag[44] = 2
        #expect(Self.decodeInitiate(flag) == .failure(.invalidCookieField))
        var absentButSet = Self.initiate(cookie: nil)
        absentButSet[50] = 1
        #expect(Self.decodeInitiate(absentButSet) == .failure(.invalidCookieField))
        #expect(Self.decodeInitiate(Array(Self.initiate(cookie: nil).dropLast())) == .failure(.wrongLength(type: .initiate, length: 255)))
        var version = Self.initiate(cookie: nil)
        version[2] = 1
        #expect(Self.decodeInitiate(version) == .failure(.unsupportedVersion(1)))
        #expect(Self.decodeInitiate([0x50]) == .failure(.truncated(length: 1)))
    }

    @Test func everyTypeChecksItsLength() {
        func decode(_ type: SecureMessageType, length: Int) -> Bool {
            var bytes = [UInt8](repeating: 0, count: length)
            bytes.replaceSubrange(0..<4, with: [0x50, 0x32, 0x02, type.rawValue])
            return bytes.withUnsafeBytes { bytes in
                switch type {
                case .initiate: (try? SecureDatagram.decodeInitiate(bytes)) != nil
                case .retry: (try? SecureDatagram.decodeRetry(bytes)) != nil
                case .response: (try? SecureDatagram.decodeResponse(bytes)) != nil
                case .confirm: (try? SecureDatagram.decodeConfirm(bytes)) != nil
                case .done: (try? SecureDatagram.decodeDone(bytes)) != nil
                case .sealed: (try? SecureDatagram.decodeSealed(bytes)) != nil
                }
            }
        }
        let valid: [SecureMessageType: ClosedRange<Int>] = [
            .initiate: 256...256, .retry: 28...28, .response: 196...196, .confirm: 156...156,
            .done: 31...151, .sealed: 36...SecureDatagram.maximumSealedSize,
        ]
        for (type, lengths) in valid {
            for length in [12, lengths.lowerBound - 1, lengths.lowerBound, lengths.upperBound, lengths.upperBound + 1] {
                #expect(decode(type, length: length) == lengths.contains(length), "\(type) \(length)")
            }
        }
        // Answers never outgrow the INITIATE an unauthenticated source sent.
        #expect(SecureDatagram.responseSize <= SecureDatagram.initiateSize)
        #expect(SecureDatagram.retrySize <= SecureDatagram.initiateSize)
    }

    @Test func verdictRoundTripsAndCutsLongTexts() throws {
        let long = String(repeating: "é", count: 100)
        var bytes: [UInt8] = []
        SecureDatagram.appendVerdict(SecureVerdict(status: .refused, rights: 0, text: long), to: &bytes)
        #expect(bytes.count == 3 + 120)
        let decoded = try bytes.withUnsafeBytes { try SecureDatagram.decodeVerdict($0) }
        #expect(decoded.status == .refused && decoded.text == String(repeating: "é", count: 60))
        var unknown = bytes
        unknown[0] = 2
        #expect(throws: SecureDecodingError.invalidVerdict) { try unknown.withUnsafeBytes { try SecureDatagram.decodeVerdict($0) } }
        var short = bytes
        short[2] = 119
        #expect(throws: SecureDecodingError.invalidVerdict) { try short.withUnsafeBytes { try SecureDatagram.decodeVerdict($0) } }
    }
}
