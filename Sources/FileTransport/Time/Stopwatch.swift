/// Elapsed time on the monotonic clock, for durations (a job's seconds in the log, a transfer's rate, the
/// spacing of requests).
///
/// It never answers "what time is it": decisions about dates (ages, windows, deadlines, file names) take
/// the clock the job or command was given. A stopwatch cannot be pinned and need not be: it measures how
/// long something took on this machine, which no simulated clock changes.
public struct Stopwatch: Sendable {
    private let start = ContinuousClock.now

    /// Starts measuring.
    public init() {}

    /// Seconds since the stopwatch started.
    public var seconds: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
