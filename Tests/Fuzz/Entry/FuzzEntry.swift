// The libFuzzer entry points of the fuzz binary (built by scripts/fuzz.sh, not SwiftPM).
// The target comes from P2MP_FUZZ_TARGET; a broken property prints why and aborts, so that
// libFuzzer keeps the input as a crash file.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzProperties

nonisolated(unsafe) private var selected = FuzzTarget.native

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let name = getenv("P2MP_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        print("P2MP_FUZZ_TARGET is '\(name)', expected one of: \(names)")
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try selected.check(bytes)
    } catch {
        print("property violated (\(selected.rawValue)): \(error)")
        fflush(nil)  // abort() would drop what stdout still holds
        abort()
    }
    return 0
}
