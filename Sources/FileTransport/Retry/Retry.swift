import Glibc
import Logging

/// How often and how patiently transient failures are retried.
public struct RetryPolicy: Sendable, Hashable {
    /// The most attempts in all (1 means no retry).
    public var maxAttempts: Int
    /// The wait before the second attempt, in seconds.
    public var initialDelay: Double
    /// The longest wait between attempts, in seconds.
    public var maxDelay: Double
    /// How much the wait grows after each failure.
    public var multiplier: Double
    /// The random share of each wait (0.2 = ±20%), so many clients do not retry in step.
    public var jitter: Double

    /// Creates a policy; the defaults wait 1, 2, 4, 8 s between five attempts.
    public init(maxAttempts: Int = 5, initialDelay: Double = 1, maxDelay: Double = 60, multiplier: Double = 2,
                jitter: Double = 0.2) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// No retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before attempt `attempt + 1` (attempt counts from 1), without jitter.
    public func baseDelay(after attempt: Int) -> Double {
        min(maxDelay, initialDelay * pow(multiplier, Double(attempt - 1)))
    }
}

/// Runs an operation, retrying transient ``TransportError``s with exponential backoff and jitter.
public enum Retry {
    /// Runs `body` until it succeeds, fails permanently, or the attempts run out.
    ///
    /// - Parameters:
    ///   - policy: Attempts and waits.
    ///   - operation: What is being done, for logs.
    ///   - logger: Where retries are logged.
    ///   - sleep: How to wait (tests pass a recorder).
    ///   - body: The operation.
    /// - Returns: What `body` returns.
    /// - Throws: The last error; a ``TransportError`` carries the number of attempts made.
    @discardableResult
    public static func run<T>(
        _ policy: RetryPolicy, operation: String, logger: Logger? = nil,
        sleep: (Double) -> Void = { Retry.sleep(seconds: $0) }, _ body: () throws -> T
    ) throws -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch var error as TransportError {
                guard error.isTransient, attempt < policy.maxAttempts else {
                    error.attempts = attempt
                    throw error
                }
                let base = policy.baseDelay(after: attempt)
                let delay = max(0, base * (1 + policy.jitter * Double.random(in: -1...1)))
                logger?.warning("transient failure, retrying", metadata: [
                    "operation": "\(operation)", "attempt": "\(attempt)", "of": "\(policy.maxAttempts)",
                    "wait_s": "\((delay * 10).rounded() / 10)", "error": "\(error)",
                ])
                sleep(delay)
                attempt += 1
            }
        }
    }

    /// Blocks the calling thread for `seconds`.
    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
