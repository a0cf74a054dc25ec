import Foundation
import P2MPSpool
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Committing into the spool")
struct SpoolCommitTests {
    @Test("commit creates the subdirectories; the name appears only at commit")
    func createsSubdirectories() throws {
        let fixture = try SpoolFixture()
        let content = pattern(200_000)
        let partial = try fixture.received(content)
        #expect(!fixture.exists("releases"))
        #expect(!fixture.exists("releases/2024/app.tar.gz"))

        let name = try SpoolName(validating: "releases/2024/app.tar.gz")
        try fixture.spool.commit(partial, as: name, metadata: metadata(content), replacing: false)
        #expect(fixture.contents("releases/2024/app.tar.gz") == content)
        #expect(!partial.isOpen)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        // Nothing left in the partial directory: data renamed, state removed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.file(".p2mp/partial")) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.file("releases/2024")) == ["app.tar.gz"])
        #expect(fixture.spool.path(of: name) == fixture.file("releases/2024/app.tar.gz"))
    }

    @Test("an existing name is not replaced unless asked; the partial survives the refusal")
    func existsWithoutReplacing() throws {
        let fixture = try SpoolFixture()
        try fixture.commit(bytes("old"), as: "a")
        let partial = try fixture.received(bytes("new"))
        let name = try SpoolName(validating: "a")
        let error = spoolError {
            try fixture.spool.commit(partial, as: name, metadata: metadata(bytes("new")), replacing: false)
        }
        #expect(error == .exists(path: fixture.file("a")))
        #expect(error?.description.contains(fixture.file("a")) == true)
        #expect(fixture.contents("a") == bytes("old"))
        #expect(partial.isOpen)
        #expect(try fixture.spool.existing(name)?.sha256Hex == FileDigest.sha256Hex(bytes("old")))

        // The refused partial can still be committed elsewhere.
        try fixture.spool.commit(
            partial, as: SpoolName(validating: "b"), metadata: metadata(bytes("new")), replacing: false)
        #expect(fixture.contents("b") == bytes("new"))
    }

    @Test("a symbolic link as the final name counts as existing")
    func existingSymlinkLeaf() throws {
        let fixture = try SpoolFixture()
        symlink("/nonexistent", fixture.file("dangling"))
        let partial = try fixture.received(bytes("x"))
        let error = spoolError {
            try fixture.spool.commit(
                partial, as: SpoolName(validating: "dangling"), metadata: metadata(bytes("x")), replacing: false)
        }
        #expect(error == .exists(path: fixture.file("dangling")))
    }

    @Test("replacing swaps the whole file in one rename, sidecar included")
    func replacing() throws {
        let fixture = try SpoolFixture()
        try fixture.commit(bytes("old content"), as: "dir/a")
        let oldInode = try FileManager.default.attributesOfItem(atPath: fixture.file("dir/a"))[.systemFileNumber]
        try fixture.commit(bytes("new content, longer"), as: "dir/a", replacing: true)
        #expect(fixture.contents("dir/a") == bytes("new content, longer"))
        let newInode = try FileManager.default.attributesOfItem(atPath: fixture.file("dir/a"))[.systemFileNumber]
        #expect(oldInode as? Int != newInode as? Int)  // a new file renamed over, not rewritten in place
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.file("dir")) == ["a"])
        let existing = try fixture.spool.existing(SpoolName(validating: "dir/a"))
        #expect(existing?.sha256Hex == FileDigest.sha256Hex(bytes("new content, longer")))
        #expect(existing?.metadata?.size == 19)
    }

    @Test("replacing a symbolic link replaces the link, never its target")
    func replacingSymlink() throws {
        let fixture = try SpoolFixture()
        let outside = try TemporaryDirectory("outside")
        let target = outside.path + "/target"
        _ = FileManager.default.createFile(atPath: target, contents: Data("precious".utf8))
        symlink(target, fixture.file("link"))
        try fixture.commit(bytes("pushed"), as: "link", replacing: true)
        #expect(FileManager.default.contents(atPath: target) == Data("precious".utf8))
        #expect(fixture.contents("link") == bytes("pushed"))
        let type = try FileManager.default.attributesOfItem(atPath: fixture.file("link"))[.type] as? FileAttributeType
        #expect(type == .typeRegular)
    }

    @Test("a symbolic link planted as a directory of the name is refused; nothing is created outside")
    func symlinkEscape() throws {
        let fixture = try SpoolFixture()
        let outside = try TemporaryDirectory("outside")
        symlink(outside.path, fixture.file("evil"))
        try FileManager.default.createDirectory(atPath: fixture.file("a"), withIntermediateDirectories: false)
        symlink(outside.path, fixture.file("a/b"))

        for name in ["evil/x", "evil/sub/x", "a/b/c/d"] {
            let partial = try fixture.received(bytes(name))
            let error = spoolError {
                try fixture.spool.commit(
                    partial, as: SpoolName(validating: name), metadata: metadata(bytes(name)), replacing: true)
            }
            let link = name.hasPrefix("evil") ? "evil" : "a/b"
            #expect(error == .outsideSpool(path: fixture.file(link)), "\(name)")
            #expect(error?.description.contains("outside the spool") == true)
            #expect(partial.isOpen)
            partial.discard()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == [])
    }

    @Test("a file where a directory of the name should be is an error naming it")
    func fileInTheWay() throws {
        let fixture = try SpoolFixture()
        try fixture.commit(bytes("plain"), as: "a")
        let partial = try fixture.received(bytes("x"))
        let error = spoolError {
            try fixture.spool.commit(
                partial, as: SpoolName(validating: "a/b"), metadata: metadata(bytes("x")), replacing: true)
        }
        #expect(error?.code == ENOTDIR)
        #expect(error?.description.contains(fixture.file("a")) == true)
        #expect(fixture.contents("a") == bytes("plain"))
    }

    @Test("a directory under the final name is not replaced")
    func directoryInTheWay() throws {
        let fixture = try SpoolFixture()
        try FileManager.default.createDirectory(atPath: fixture.file("d/sub"), withIntermediateDirectories: true)
        let partial = try fixture.received(bytes("x"))
        let error = spoolError {
            try fixture.spool.commit(
                partial, as: SpoolName(validating: "d"), metadata: metadata(bytes("x")), replacing: true)
        }
        #expect(error?.code != nil)
        #expect(FileManager.default.fileExists(atPath: fixture.file("d/sub")))
        #expect(partial.isOpen)
    }

    @Test("metadata that does not describe the content is refused")
    func metadataMismatch() throws {
        let fixture = try SpoolFixture()
        let partial = try fixture.received(bytes("content"))
        let name = try SpoolName(validating: "f")
        let error = spoolError {
            try fixture.spool.commit(partial, as: name, metadata: metadata(bytes("other!!")), replacing: false)
        }
        #expect(error?.code == EINVAL)
        #expect(!fixture.exists("f"))
        // Uppercase hex is the same digest.
        var upper = metadata(bytes("content"))
        upper.sha256 = upper.sha256.uppercased()
        try fixture.spool.commit(partial, as: name, metadata: upper, replacing: false)
        #expect(try fixture.spool.existing(name)?.metadata?.sha256 == FileDigest.sha256Hex(bytes("content")))
    }

    @Test("a committed or discarded partial cannot be committed or written again")
    func spentPartial() throws {
        let fixture = try SpoolFixture()
        let partial = try fixture.received(bytes("once"))
        try fixture.spool.commit(
            partial, as: SpoolName(validating: "once"), metadata: metadata(bytes("once")), replacing: false)
        let again = spoolError {
            try fixture.spool.commit(
                partial, as: SpoolName(validating: "twice"), metadata: metadata(bytes("once")), replacing: false)
        }
        #expect(again?.code == EBADF)
        let write = spoolError {
            try bytes("x").withUnsafeBytes { buffer in try partial.write(buffer, at: 0) }
        }
        #expect(write?.code == EBADF)
        #expect(!fixture.exists("twice"))
    }

    @Test("an empty file commits")
    func emptyFile() throws {
        let fixture = try SpoolFixture()
        try fixture.commit([], as: "empty")
        #expect(fixture.contents("empty") == [])
        let existing = try fixture.spool.existing(SpoolName(validating: "empty"))
        #expect(existing?.size == 0)
        #expect(existing?.sha256Hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("a partial of another spool is refused")
    func foreignPartial() throws {
        let first = try SpoolFixture()
        let second = try SpoolFixture()
        let partial = try first.received(bytes("x"))
        let error = spoolError {
            try second.spool.commit(
                partial, as: SpoolName(validating: "x"), metadata: metadata(bytes("x")), replacing: false)
        }
        #expect(error?.code == EBADF)
    }
}
