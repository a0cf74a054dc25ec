import P2MPSecurity
import P2MPWire
import Testing

@Suite struct ReplayWindowTests {
    @Test func freshReplayedAndTooOld() {
        var window = ReplayWindow()
        #expect(window.verdict(for: 5) == .fresh)
        window.record(5)
        #expect(window.verdict(for: 5) == .replayed)
        #expect(window.verdict(for: 4) == .fresh)
        window.record(5_000)
        #expect(window.verdict(for: 5) == .tooOld)
        #expect(window.verdict(for: UInt64(5_000 - ReplayWindow.size)) == .tooOld)
        #expect(window.verdict(for: UInt64(5_000 - ReplayWindow.size + 1)) == .fresh)
        #expect(window.verdict(for: 5_000) == .replayed)
        #expect(window.verdict(for: 4_999) == .fresh)
    }

    @Test func closingBelowTheHighestLeavesOnlyNewerCountersFresh() {
        var window = ReplayWindow()
        window.closeBelowHighest()  // Nothing recorded: nothing to close.
        #expect(window.verdict(for: 0) == .fresh)
        window.record(10)
        window.record(12)
        #expect(window.verdict(for: 11) == .fresh)
        window.closeBelowHighest()
        #expect(window.verdict(for: 11) == .tooOld && window.verdict(for: 12) == .tooOld)
        #expect(window.verdict(for: 13) == .fresh && window.verdict(for: 20) == .fresh)
        window.record(20)
        #expect(window.verdict(for: 15) == .fresh && window.verdict(for: 11) == .tooOld)
    }

    @Test func agreesWithASetModelOnSeededReorderings() {
        // The window against the obvious model (a set of everything received and the
        // highest counter) on streams with duplicates, reordering and jumps.
        for seed in UInt64(1)...200 {
            var random = SplitMix64(seed: seed)
            var window = ReplayWindow()
            var seen: Set<UInt64> = []
            var highest: UInt64?
            var base: UInt64 = 0
            for _ in 0..<2_000 {
                let step = random.next() % 100
                if step < 5 { base += random.next() % 5_000 }
                let counter = base + random.next() % 3_000
                let expected: ReplayWindow.Verdict
                if let top = highest, counter <= top, top - counter >= UInt64(ReplayWindow.size) {
                    expected = .tooOld
                } else {
                    expected = seen.contains(counter) ? .replayed : .fresh
                }
                #expect(window.verdict(for: counter) == expected, "seed \(seed), counter \(counter)")
                if expected == .fresh {
                    window.record(counter)
                    seen.insert(counter)
                    highest = max(highest ?? 0, counter)
                }
            }
        }
    }
}

@Suite struct SessionProtectionTests {
    /// A sealer and the opener at the other end of one honest handshake.
    static func pair(seed: UInt64) -> (SessionSealer, SessionOpener) {
        var responder = makeResponder()
        let recorded = handshake(responder: &responder, seed: seed).record!
        return (recorded.initiatorSession.sealer, recorded.responderSession.opener)
    }

    @Test func replayedDatagramsInPartOrWholeAreDroppedAndCounted() {
        var (sealer, opener) = Self.pair(seed: 20)
        let datagrams = (0..<100).map { sealer.seal(Array("segment \($0)".utf8)) }
        for datagram in datagrams { #expect(opener.open(datagram) != nil) }
        // The whole capture again, then a part of it, reversed.
        for datagram in datagrams { #expect(opener.open(datagram) == nil) }
        for datagram in datagrams[40..<60].reversed() { #expect(opener.open(datagram) == nil) }
        #expect(opener.statistics.opened == 100 && opener.statistics.replayed == 120)
    }

    @Test func reorderingWithinTheWindowIsAcceptedOnceAndBeyondItIsDropped() {
        var (sealer, opener) = Self.pair(seed: 21)
        let count = 1_000 + ReplayWindow.size + 200
        let datagrams = (0..<count).map { sealer.seal([UInt8(truncatingIfNeeded: $0)]) }
        var random = SplitMix64(seed: 21)
        // The first 1,000 in a seeded shuffle: all arrive, each once.
        let shuffled = Array(datagrams[0..<1_000]).shuffled(using: &random)
        for datagram in shuffled { #expect(opener.open(datagram) != nil) }
        for datagram in shuffled.prefix(10) { #expect(opener.open(datagram) == nil) }
        // The newest moves the window; a late one never seen, inside it, still opens; one
        // below it is refused unopened, seen or not.
        #expect(opener.open(datagrams[count - 1]) != nil)
        #expect(opener.open(datagrams[count - ReplayWindow.size]) != nil)
        #expect(opener.open(datagrams[count - 1 - ReplayWindow.size]) == nil)
        #expect(opener.open(datagrams[500]) == nil)
        #expect(opener.statistics.outsideWindow == 2 && opener.statistics.replayed == 10)
        #expect(opener.statistics.opened == 1_002 && opener.statistics.forged == 0)
    }

    @Test func aTamperedDatagramIsDroppedAndTheWindowDoesNotMove() {
        var (sealer, opener) = Self.pair(seed: 22)
        let datagram = sealer.seal(Array(repeating: 0xAB, count: 64))
        for position in datagram.indices {
            var tampered = datagram
            tampered[position] ^= 0x80
            #expect(opener.open(tampered) == nil, "byte \(position) flipped was accepted")
        }
        // Nothing forged moved the window: the genuine datagram still opens.
        #expect(opener.window.highest == nil)
        #expect(opener.open(datagram) == Array(repeating: 0xAB, count: 64))
        // Flips in magic, version, type or session id make it no datagram of this session
        // (malformed).
        // Flips in the counter's top four bytes put it past the session's last counter
        // (outside the window), the others fail the AEAD.
        let statistics = opener.statistics
        #expect(statistics.malformed + statistics.outsideWindow + statistics.forged == datagram.count)
        #expect(statistics.malformed == 12 && statistics.outsideWindow == 4 && statistics.opened == 1)
    }

    @Test func cheapChecksComeBeforeTheAEAD() {
        var (sealer, opener) = Self.pair(seed: 23)
        let first = sealer.seal([1])
        #expect(opener.open(first) != nil)
        // A replay with a garbled tag is counted as a replay: the AEAD never ran on it.
        var garbled = first
        garbled[garbled.count - 1] ^= 1
        #expect(opener.open(garbled) == nil)
        #expect(opener.statistics.replayed == 1 && opener.statistics.forged == 0)
        // A counter past the session's last is refused before the AEAD as well.
        var late = first
        late.replaceSubrange(12..<20, with: bigEndian(SessionLimits.maximumCounter + 1))
        #expect(opener.open(late) == nil)
        #expect(opener.statistics.outsideWindow == 1 && opener.statistics.forged == 0)
        #expect(opener.open([UInt8](first.prefix(35))) == nil)
        #expect(opener.statistics.malformed == 1)
    }

    @Test func aDatagramOfAnotherSessionDoesNotOpen() {
        var (sealer, _) = Self.pair(seed: 24)
        var (_, otherOpener) = Self.pair(seed: 25)
        var datagram = sealer.seal([9, 9, 9])
        // Even addressed to the other session's id, it was sealed under another key.
        datagram.replaceSubrange(4..<12, with: bigEndian(otherOpener.localSession))
        #expect(otherOpener.open(datagram) == nil)
        #expect(otherOpener.statistics.forged == 1)
    }

    @Test func bothCiphersRoundTripAndRejectTheOthersOutput() {
        let header = [UInt8](repeating: 7, count: 20)
        let plaintext = Array("packet".utf8)
        var outputs: [[UInt8]] = []
        for cipher in PacketCipher.allCases {
            let key = TrafficKey(cipher: cipher, keyBytes: Array(repeating: 1, count: 32), iv: Array(repeating: 2, count: 12))
            var sealed = [UInt8](repeating: 0, count: plaintext.count + 16)
            _ = sealed.withUnsafeMutableBytes { sealed in
                plaintext.withUnsafeBytes { plaintext in
                    header.withUnsafeBytes { key.seal(plaintext, counter: 3, authenticating: $0, into: sealed) }
                }
            }
            var opened = [UInt8](repeating: 0, count: plaintext.count)
            let size = opened.withUnsafeMutableBytes { opened in
                sealed.withUnsafeBytes { sealed in
                    header.withUnsafeBytes { key.open(sealed, counter: 3, authenticating: $0, into: opened) }
                }
            }
            #expect(size == plaintext.count && opened == plaintext, "\(cipher)")
            let wrongCounter = opened.withUnsafeMutableBytes { opened in
                sealed.withUnsafeBytes { sealed in
                    header.withUnsafeBytes { key.open(sealed, counter: 4, authenticating: $0, into: opened) }
                }
            }
            #expect(wrongCounter == nil, "\(cipher) opened under another nonce")
            outputs.append(sealed)
        }
        #expect(outputs[0] != outputs[1])
    }
}
