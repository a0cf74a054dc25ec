extension UInt64 {
    /// `self / divisor` rounded up, as in "segments needed for this many bytes"; `divisor`
    /// must be positive (checked).
    @inlinable
    public func dividedRoundingUp(by divisor: UInt64) -> UInt64 {
        precondition(divisor > 0, "division by zero")
        return self / divisor + (self % divisor == 0 ? 0 : 1)
    }
}
