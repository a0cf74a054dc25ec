#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Spool {
    /// Puts a received content under its final name, so that the name holds either the
    /// old file or the complete new one, across a crash at any point:
    ///
    /// 1. fsync the partial's data;
    /// 2. create the missing directories of `name` beneath the root (each one opened with
    ///    O_NOFOLLOW: a symbolic link is `.outsideSpool`), syncing each parent;
    /// 3. rename the data onto the name: atomically replacing what is there when
    ///    `replacing`, `.exists` otherwise (renameat2 RENAME_NOREPLACE where supported);
    /// 4. fsync the directory, remove the state file;
    /// 5. write the sidecar (temporary file, fsync, rename, fsync). Its failure is
    ///    `.metadataNotWritten`: the file is committed all the same.
    ///
    /// The spool does not re-hash here: the caller has verified the content's SHA-256
    /// (`PartialFile.sha256()` can). `metadata` must describe the partial's content
    /// (same size and digest), EINVAL otherwise. On `.exists`, `.outsideSpool` or an error
    /// before the rename, the partial stays open and untouched, to retry or discard; after
    /// the rename the partial is spent, and an error (syncing the directory, the sidecar)
    /// means the file is in place but that step failed.
    public func commit(
        _ partial: PartialFile, as name: SpoolName, metadata: FileMetadata, replacing: Bool
    ) throws(SpoolError) {
        guard partial.directory === partialDirectory, partial.isOpen else {
            throw SpoolError("not an open partial of the spool '\(root)':", path: partial.path, code: EBADF)
        }
        guard metadata.size == partial.size, metadata.sha256.lowercased() == partial.content.sha256Hex else {
            throw SpoolError(
                "metadata (\(metadata.size) bytes, sha256 \(metadata.sha256)) does not describe",
                path: partial.path, code: EINVAL)
        }
        guard fsync(partial.descriptor) == 0 else { throw SpoolError("cannot sync", path: partial.path) }
        guard let parent = try rootDirectory.parent(of: name, create: true) else {
            throw SpoolError("cannot create the directories of", path: path(of: name), code: ENOENT)
        }
        let finalPath = parent.path(of: name.leaf)
        try rename(partial.dataName, to: name.leaf, in: parent, replacing: replacing, finalPath: finalPath)

        // The content is now under its final name; the partial is spent whatever follows.
        let identity = try? Self.identity(of: partial.descriptor, path: finalPath)
        partial.closeDescriptor()
        unlinkat(partialDirectory.descriptor, partial.stateName, 0)
        partialsOnDisk.remove(partial.content.hexKey)
        try parent.sync()
        try? partialDirectory.sync()

        var recorded = metadata
        recorded.sha256 = partial.content.sha256Hex
        guard let identity else {
            throw .metadataNotWritten(FileSystemError("cannot stat", path: finalPath, code: EIO))
        }
        let sidecar = MetadataSidecar(
            name: name.rawValue, inode: identity.inode, size: identity.size,
            modificationSeconds: identity.modified.seconds,
            modificationNanoseconds: identity.modified.nanoseconds, metadata: recorded)
        do throws(SpoolError) {
            try metaDirectory.writeAtomically(
                sidecar.encoded(), to: MetadataSidecar.fileName(for: name), durable: true)
        } catch {
            throw .metadataNotWritten(error.fileSystemError)
        }
    }

    /// Renames the partial data `source` to `leaf` in `parent`.
    private func rename(
        _ source: String, to leaf: String, in parent: Directory, replacing: Bool, finalPath: String
    ) throws(SpoolError) {
        let from = partialDirectory.descriptor
        if replacing {
            guard renameat(from, source, parent.descriptor, leaf) == 0 else {
                throw SpoolError("cannot rename into", path: finalPath)
            }
            return
        }
        if let renameWithoutReplacing = RenameNoReplace.function {
            if renameWithoutReplacing(from, source, parent.descriptor, leaf, RenameNoReplace.flag) == 0 { return }
            let code = errno
            if code == EEXIST { throw .exists(path: finalPath) }
            // EINVAL: the file system cannot do it; ENOSYS: nor can the kernel. Check, then rename.
            guard code == EINVAL || code == ENOSYS else {
                throw SpoolError("cannot rename into", path: finalPath, code: code)
            }
        }
        guard parent.fileType(leaf) == nil else { throw .exists(path: finalPath) }
        guard renameat(from, source, parent.descriptor, leaf) == 0 else {
            throw SpoolError("cannot rename into", path: finalPath)
        }
    }
}

/// renameat2(2) with RENAME_NOREPLACE, looked up at run time: the Glibc module does not
/// declare it.
enum RenameNoReplace {
    typealias Function = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32

    static let flag: UInt32 = 1

    static let function: Function? = {
        #if os(Linux)
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
        #else
        return nil
        #endif
    }()
}
