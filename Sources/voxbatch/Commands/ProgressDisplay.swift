import BatchJobs
import FileTransport
import Foundation
import Glibc

/// A one-line progress display on standard error (bytes or rows, rate, time left), shown only when
/// standard error is a terminal: under cron or in a pipe voxbatch stays with plain log lines.
final class ProgressDisplay {
    private var lastDraw: Stopwatch?
    private var started: (file: String, phase: PipelineProgress.Phase, at: Stopwatch)?
    private var drawn = false

    /// A display if standard error is a terminal, else `nil`.
    static func forTerminal() -> ProgressDisplay? {
        guard isatty(STDERR_FILENO) == 1, ProcessInfo.processInfo.environment["TERM"] != "dumb" else { return nil }
        return ProgressDisplay()
    }

    func update(_ p: PipelineProgress) {
        if started?.file != p.file || started?.phase != p.phase { started = (p.file, p.phase, Stopwatch()) }
        guard (lastDraw?.seconds ?? .infinity) > 0.1 else { return }
        lastDraw = Stopwatch()
        let elapsed = max(0.001, started!.at.seconds)
        var line = "\(p.file): "
        switch p.phase {
        case .download:
            line += "downloading \(Self.bytes(p.done))" + (p.total.map { " of \(Self.bytes($0))" } ?? "")
                + ", \(Self.bytes(Int64(Double(p.done) / elapsed)))/s"
        case .rows:
            line += "\(p.rows) rows, \(Int(Double(p.rows) / elapsed)) rows/s"
        }
        if let total = p.total, total > 0, p.done > 0 {
            let fraction = min(1, Double(p.done) / Double(total))
            let left = elapsed / fraction - elapsed
            line += String(format: ", %.0f%%, %@ left", fraction * 100, Self.duration(left))
        }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drawn = true
    }

    /// Clears the line before other output.
    func finish() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s % 3600 / 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
