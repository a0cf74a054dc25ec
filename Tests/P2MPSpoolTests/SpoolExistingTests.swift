import Foundation
import P2MPSpool
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("What the spool already holds")
struct SpoolExistingTests {
    @Test("nothing committed: nil, also when a directory of the name is missing")
    func missing() throws {
        let fixture = try SpoolFixture()
        #expect(try fixture.spool.existing(SpoolName(validating: "nothing")) == nil)
        #expect(try fixture.spool.existing(SpoolName(validating: "no/such/dir/file")) == nil)
    }

    @Test("the sidecar round-trips the metadata, and its digest is what existing reports")
    func sidecarRoundTrip() throws {
        let fixture = try SpoolFixture()
        let content = pattern(70_000)
        let sent = metadata(content, sender: "[2001:db8::1]:7735 \"odd\"\n\\ 名前", senderKey: "ed25519:AAAA")
        let partial = try fixture.received(content)
        let name = try SpoolName(validating: "x/y/file.bin")
        try fixture.spool.commit(partial, as: name, metadata: sent, replacing: false)

        let existing = try #require(try fixture.spool.existing(name))
        #expect(existing.metadata == sent)
        #expect(existing.size == 70_000)
        #expect(existing.sha256Hex == FileDigest.sha256Hex(content))
        #expect(existing.matches(key(content)))

        // The sidecar's digest is believed while it describes the file: change the digest it
        // records (and nothing else) and existing reports the changed one.
        let sidecars = try FileManager.default.contentsOfDirectory(atPath: fixture.file(".p2mp/meta"))
        #expect(sidecars.count == 1)
        let sidecarPath = fixture.file(".p2mp/meta/" + sidecars[0])
        let text = try String(contentsOfFile: sidecarPath, encoding: .utf8)
        let forged = String(repeating: "ab", count: 32)
        try text.replacingOccurrences(of: FileDigest.sha256Hex(content), with: forged)
            .write(toFile: sidecarPath, atomically: false, encoding: .utf8)
        #expect(try fixture.spool.existing(name)?.sha256Hex == forged)
    }

    @Test("without a sidecar the file is hashed")
    func fallbackWithoutSidecar() throws {
        let fixture = try SpoolFixture()
        let content = pattern(2_500_000, seed: 7)  // more than two 1 MiB chunks
        try fixture.commit(content, as: "big.bin")
        for sidecar in try FileManager.default.contentsOfDirectory(atPath: fixture.file(".p2mp/meta")) {
            try FileManager.default.removeItem(atPath: fixture.file(".p2mp/meta/" + sidecar))
        }
        let existing = try #require(try fixture.spool.existing(SpoolName(validating: "big.bin")))
        #expect(existing.metadata == nil)
        #expect(existing.size == 2_500_000)
        #expect(existing.sha256Hex == FileDigest.sha256Hex(content))
    }

    @Test("a file placed by hand, never committed, is hashed")
    func handPlacedFile() throws {
        let fixture = try SpoolFixture()
        _ = FileManager.default.createFile(atPath: fixture.file("abc"), contents: Data("abc".utf8))
        let existing = try fixture.spool.existing(SpoolName(validating: "abc"))
        #expect(existing?.sha256Hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(existing?.metadata == nil)
    }

    @Test("a sidecar that no longer describes the file is ignored")
    func staleSidecar() throws {
        let fixture = try SpoolFixture()
        let name = try SpoolName(validating: "f")
        try fixture.commit(bytes("original"), as: "f")

        // Edited in place, same size: the modification time changed.
        let handle = try #require(FileHandle(forWritingAtPath: fixture.file("f")))
        try handle.write(contentsOf: Data("EDITED!!".utf8))
        try handle.close()
        setModificationTime(fixture.file("f"), seconds: 1_000_000)
        #expect(try fixture.spool.existing(name)?.sha256Hex == FileDigest.sha256Hex(bytes("EDITED!!")))
        #expect(try fixture.spool.existing(name)?.metadata == nil)

        // Replaced by another file with the same size and time: the inode changed.
        try fixture.commit(bytes("second!!"), as: "f", replacing: true)
        let replacement = fixture.file("replacement")
        _ = FileManager.default.createFile(atPath: replacement, contents: Data("third!!!".utf8))
        var status = stat()
        stat(fixture.file("f"), &status)
        var times = [status.st_atim, status.st_mtim]
        utimensat(AT_FDCWD, replacement, &times, 0)
        rename(replacement, fixture.file("f"))
        #expect(try fixture.spool.existing(name)?.sha256Hex == FileDigest.sha256Hex(bytes("third!!!")))
    }

    @Test("a damaged sidecar is ignored")
    func damagedSidecar() throws {
        let fixture = try SpoolFixture()
        try fixture.commit(bytes("content"), as: "f")
        let sidecars = try FileManager.default.contentsOfDirectory(atPath: fixture.file(".p2mp/meta"))
        try "{\"format\":\"p2mp-meta-1\",".write(
            toFile: fixture.file(".p2mp/meta/" + sidecars[0]), atomically: false, encoding: .utf8)
        let existing = try fixture.spool.existing(SpoolName(validating: "f"))
        #expect(existing?.sha256Hex == FileDigest.sha256Hex(bytes("content")))
        #expect(existing?.metadata == nil)
    }

    @Test("a symbolic link as the file is not followed")
    func symlinkLeaf() throws {
        let fixture = try SpoolFixture()
        let outside = try TemporaryDirectory("outside")
        _ = FileManager.default.createFile(atPath: outside.path + "/secret", contents: Data("secret".utf8))
        symlink(outside.path + "/secret", fixture.file("link"))
        let error = spoolError { try fixture.spool.existing(SpoolName(validating: "link")) }
        #expect(error == .outsideSpool(path: fixture.file("link")))
    }

    @Test("a symbolic link as a directory of the name is not followed")
    func symlinkDirectory() throws {
        let fixture = try SpoolFixture()
        let outside = try TemporaryDirectory("outside")
        _ = FileManager.default.createFile(atPath: outside.path + "/secret", contents: Data("secret".utf8))
        symlink(outside.path, fixture.file("dir"))
        let error = spoolError {
            try fixture.spool.existing(SpoolName(validating: "dir/secret"))
        }
        #expect(error == .outsideSpool(path: fixture.file("dir")))
    }

    @Test("a directory, a FIFO: errors, and the FIFO does not block")
    func notRegularFiles() throws {
        let fixture = try SpoolFixture()
        try FileManager.default.createDirectory(atPath: fixture.file("d"), withIntermediateDirectories: false)
        #expect(mkfifo(fixture.file("fifo"), 0o600) == 0)
        let directory = spoolError { try fixture.spool.existing(SpoolName(validating: "d")) }
        #expect(directory?.code == EISDIR)
        let fifo = spoolError { try fixture.spool.existing(SpoolName(validating: "fifo")) }
        #expect(fifo?.code == EINVAL)
        let through = spoolError {
            try fixture.spool.existing(SpoolName(validating: "fifo/x"))
        }
        #expect(through?.code == ENOTDIR)
    }

    @Test("free space is reported")
    func freeBytes() throws {
        let fixture = try SpoolFixture()
        #expect(fixture.spool.freeBytes() > 0)
    }

    @Test("opening creates the root and the state directories, and opens an existing spool again")
    func layout() throws {
        let directory = try TemporaryDirectory()
        let root = directory.path + "/deep/er/spool"
        do {
            let spool = try Spool(root: root)
            #expect(spool.root == root)
        }
        var isDirectory: ObjCBool = false
        for path in [root, root + "/.p2mp/partial", root + "/.p2mp/meta"] {
            #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
        _ = try Spool(root: root)
    }

    @Test("a symbolic link in place of the state directory is refused")
    func symlinkedStateDirectory() throws {
        let directory = try TemporaryDirectory()
        let outside = try TemporaryDirectory("outside")
        try FileManager.default.createDirectory(atPath: directory.path + "/spool", withIntermediateDirectories: false)
        symlink(outside.path, directory.path + "/spool/.p2mp")
        do {
            _ = try Spool(root: directory.path + "/spool")
            Issue.record("followed a symbolic link for .p2mp")
        } catch {
            #expect(error.code == ELOOP)
            #expect(error.description.contains("outside the spool"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == [])
    }

    @Test("a root that cannot be a directory fails with a message naming it")
    func badRoot() throws {
        let directory = try TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: directory.path + "/file", contents: Data())
        do {
            _ = try Spool(root: directory.path + "/file/spool")
            Issue.record("opened a spool beneath a file")
        } catch {
            #expect(error.description.contains(directory.path + "/file"))
        }
    }
}
