#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import P2MPClient
import Testing

@Suite("Progress display on a terminal")
struct ProgressDisplayTests {
    final class Clock {
        var now = 0.0
    }

    /// A pipe: the display writes into one end, the test reads the other.
    final class Pipe {
        let readEnd: Int32
        var writeEnd: Int32

        init() throws {
            var descriptors: [Int32] = [0, 0]
            try #require(pipe(&descriptors) == 0)
            readEnd = descriptors[0]
            writeEnd = descriptors[1]
        }

        /// Closes the write end and returns everything written.
        func readAll() -> String {
            close(writeEnd)
            writeEnd = -1
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                bytes += buffer[..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        deinit {
            close(readEnd)
            if writeEnd >= 0 { close(writeEnd) }
        }
    }

    static func state(_ bytes: UInt64) -> ProgressState {
        var state = ProgressState(names: ["a", "b"], fileSize: 100, startTime: 0)
        state.receivers[0].phase = .sending
        state.receivers[0].bytesAcknowledged = bytes
        return state
    }

    static let escape = "\u{1B}"

    static func block(_ state: ProgressState, width: Int) -> String {
        ProgressRenderer.render(state, width: width - 1).map { "\r\(escape)[2K\($0)\n" }.joined()
    }

    @Test("the first draw writes the block; later ones move up over it and clear each line")
    func ansiSequences() throws {
        let pipe = try Pipe()
        let clock = Clock()
        let display = ProgressDisplay(descriptor: pipe.writeEnd, isTerminal: true, clock: { clock.now }, width: { 40 })
        #expect(display.redraw(Self.state(10)))
        clock.now = 1
        #expect(display.redraw(Self.state(60)))
        clock.now = 2
        display.finish(Self.state(100))
        let expected = Self.block(Self.state(10), width: 40)
            + "\(Self.escape)[3A" + Self.block(Self.state(60), width: 40)
            + "\(Self.escape)[3A" + Self.block(Self.state(100), width: 40)
        #expect(pipe.readAll() == expected)
    }

    @Test("lines are cut one column short of the terminal width")
    func width() throws {
        let pipe = try Pipe()
        let display = ProgressDisplay(descriptor: pipe.writeEnd, isTerminal: true, clock: { 0 }, width: { 12 })
        display.redraw(Self.state(10))
        let clear = "\r\(Self.escape)[2K"
        #expect(pipe.readAll() == "\(clear)[=>        \n\(clear)  a  sendin\n\(clear)  b  offeri\n")
    }

    @Test("redraws closer than 100 ms are skipped unless forced")
    func rateLimit() throws {
        let pipe = try Pipe()
        let clock = Clock()
        let display = ProgressDisplay(descriptor: pipe.writeEnd, isTerminal: true, clock: { clock.now }, width: { 80 })
        var drawn: [Bool] = []
        for time in [0, 0.0625, 0.09375, 0.125, 0.1875, 0.25, 0.25] {
            clock.now = time
            drawn.append(display.redraw(Self.state(UInt64(time * 100))))
        }
        #expect(drawn == [true, false, false, true, false, true, false])
        clock.now = 0.28125
        #expect(display.redraw(Self.state(30), force: true))
        #expect(!display.redraw(Self.state(31)))
        let output = pipe.readAll()
        #expect(output.components("\(Self.escape)[3A") == 3)
        #expect(output.components("\(Self.escape)[2K") == 4 * 3)
    }

    @Test("finish draws even right after a redraw, and nothing is drawn after it")
    func finish() throws {
        let pipe = try Pipe()
        let display = ProgressDisplay(descriptor: pipe.writeEnd, isTerminal: true, clock: { 0 }, width: { 80 })
        display.redraw(Self.state(10))
        display.finish(Self.state(100))
        #expect(!display.redraw(Self.state(100), force: true))
        display.finish(Self.state(100))
        let output = pipe.readAll()
        let up = "\(Self.escape)[3A"
        #expect(output == Self.block(Self.state(10), width: 80) + up + Self.block(Self.state(100), width: 80))
        #expect(output.hasSuffix("\n"))
    }

    @Test("a shorter block clears what is left of the longer one; clear erases the block")
    func shrinkAndClear() throws {
        let escape = Self.escape
        #expect(ProgressDisplay.frame(["x"], replacing: 3) == "\(escape)[3A\r\(escape)[2Kx\n\(escape)[0J")
        let pipe = try Pipe()
        let display = ProgressDisplay(descriptor: pipe.writeEnd, isTerminal: true, clock: { 0 }, width: { 80 })
        display.clear()
        display.redraw(Self.state(10))
        display.clear()
        display.redraw(Self.state(10), force: true)
        let block = Self.block(Self.state(10), width: 80)
        #expect(pipe.readAll() == block + "\(Self.escape)[3A\r\(Self.escape)[0J" + block)
    }

    @Test("nothing is written when the output is not a terminal")
    func notTerminal() throws {
        let pipe = try Pipe()
        #expect(!ProgressDisplay.isTerminal(pipe.writeEnd))
        #expect(ProgressDisplay.terminalWidth(pipe.writeEnd) == 80)
        let display = ProgressDisplay(descriptor: pipe.writeEnd)
        #expect(!display.isTerminal)
        #expect(!display.redraw(Self.state(10)))
        #expect(!display.redraw(Self.state(20), force: true))
        display.clear()
        display.finish(Self.state(100))
        #expect(pipe.readAll() == "")
    }
}

extension String {
    fileprivate func components(_ separator: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
