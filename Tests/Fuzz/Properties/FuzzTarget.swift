/// The fuzz targets: what each one does with an input. The libFuzzer binary runs one of
/// them (`P2MP_FUZZ_TARGET`); the replay tests run each on its committed corpus and crashes.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Native v1 transfer packets: OFFER, ACCEPT, REJECT, DATA, ACK, COMPLETE, PROBE, ABORT.
    case native
    /// The seed's classic data and ACK packets.
    case classic
    /// Native fleet queries: LIST, LISTING, MOVE, REMOVE, RESULT, GET.
    case fleet
    /// The TOML parser and one configuration file.
    case toml
    /// The configuration loader: a main file and drop-ins, then a reload of another set.
    case config
    /// `--fleet` files.
    case fleetfile
    /// Spool names from the network.
    case spoolname
    /// The secure envelope: handshake messages, SEALED, and the proof and verdict they seal.
    case secure
    /// Trusted-senders and known-hosts files, and base64.
    case keys

    /// Checks every property of this target on `bytes`.
    public func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        switch self {
        case .native: try NativeCodecProperties.check(bytes, types: NativeCodecProperties.transferTypes)
        case .classic: try ClassicCodecProperties.check(bytes)
        case .fleet: try NativeCodecProperties.check(bytes, types: NativeCodecProperties.fleetTypes)
        case .toml: try TOMLProperties.check(bytes)
        case .config: try ConfigurationProperties.check(bytes)
        case .fleetfile: try FleetFileProperties.check(bytes)
        case .spoolname: try SpoolNameProperties.check(bytes)
        case .secure: try SecureCodecProperties.check(bytes)
        case .keys: try KeyFileProperties.check(bytes)
        }
    }
}
