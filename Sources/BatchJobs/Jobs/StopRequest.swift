import Glibc

/// A request to stop cleanly (SIGTERM from systemd, a container runtime or `voxbatch schedule run`):
/// jobs finish the file in hand, record it, and start no other.
public enum StopRequest {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    /// Whether a stop was requested.
    public static var isRequested: Bool { flag != 0 }

    /// Requests a stop (safe to call from a signal handler).
    public static func request() { flag = 1 }

    /// Clears the request (tests).
    public static func reset() { flag = 0 }

    /// Makes SIGTERM and SIGINT request a stop instead of killing the process at once.
    public static func installSignalHandlers() {
        signal(SIGTERM) { _ in StopRequest.request() }
        signal(SIGINT) { _ in StopRequest.request() }
        // A parent may have started us with these blocked (the mask is inherited): accept them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
