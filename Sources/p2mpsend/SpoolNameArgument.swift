import P2MPCommandLine
import P2MPSpool

/// A spool name typed on the command line (`--name`, mv's OLD and NEW, rm's and get's NAME),
/// checked as a receiver checks it, so that a name no receiver takes (or no datagram can
/// carry, such as one over 4096 bytes) is a usage error here.
enum SpoolNameArgument {
    static func validated(_ name: String, as role: String) throws -> String {
        do {
            _ = try SpoolName(validating: name)
        } catch {
            throw UsageError("\(role) '\(error.name)' is not a name a receiver accepts: \(error.reason.message)")
        }
        return name
    }
}
