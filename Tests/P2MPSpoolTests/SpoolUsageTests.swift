import Foundation
import P2MPSpool
import Testing

/// `Spool.usage`: what `p2mpsend status` shows of the committed files.
@Suite("spool usage")
struct SpoolUsageTests {
    @Test("committed files at any depth and files placed by hand count; partials, sidecars and symbolic links do not")
    func counts() throws {
        let fixture = try SpoolFixture()
        #expect(try fixture.spool.usage() == Spool.Usage(files: 0, bytes: 0))
        try fixture.commit(pattern(1_000), as: "top.bin")
        try fixture.commit(pattern(70_000), as: "a/b/deep.bin")
        try Data(count: 5).write(to: URL(fileURLWithPath: fixture.file("by-hand.txt")))
        try FileManager.default.createSymbolicLink(atPath: fixture.file("link"), withDestinationPath: fixture.file("top.bin"))
        _ = try fixture.received(pattern(3_000))  // A partial: in .p2mp, not a file of the spool.
        #expect(try fixture.spool.usage() == Spool.Usage(files: 3, bytes: 71_005))
    }
}
