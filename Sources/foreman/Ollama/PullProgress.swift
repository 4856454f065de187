import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pull's progress on standard error, as `ollama pull` draws it: a line per status and a bar per layer
/// (`pulling dde5aa3fc5ff:  42% ▕████       ▏ 2.0 GB`), redrawn in place on a terminal. Elsewhere (a log, a pipe) each
/// status and each finished layer is written once, as a plain line.
struct PullProgress {
    private let terminal = isatty(STDERR_FILENO) == 1
    /// What the last line written shows: a status, or a layer's digest.
    private var current: String?
    private var finishedLayers: Set<String> = []

    /// Shows one progress line of the box.
    mutating func show(_ line: [String: Any]) {
        let status = line["status"] as? String ?? ""
        if let digest = line["digest"] as? String, let total = (line["total"] as? NSNumber)?.int64Value, total > 0 {
            let completed = (line["completed"] as? NSNumber)?.int64Value ?? 0
            guard completed > 0 else { return }  // Ollama's CLI skips the 0% announcement too
            let name = "pulling " + String(digest.replacingOccurrences(of: "sha256:", with: "").prefix(12)) + ":"
            if terminal {
                draw(key: digest, Self.bar(name, completed: completed, total: total, width: Self.width()))
            } else if completed >= total, finishedLayers.insert(digest).inserted {
                put(name + " 100% " + OllamaFormat.bytes(total) + "\n")
            }
        } else if !status.isEmpty, status != current {
            if terminal { draw(key: status, status) } else { put(status + "\n") }
            current = status
        }
    }

    /// Ends the last line.
    func finish() {
        if terminal, current != nil { put("\n") }
    }

    private mutating func draw(key: String, _ text: String) {
        put(key == current ? "\r\u{1B}[K" + text : (current == nil ? "" : "\n") + text)
        current = key
    }

    static func bar(_ name: String, completed: Int64, total: Int64, width: Int) -> String {
        let percent = min(100, Double(completed) / Double(total) * 100)
        let pre = name + " " + String(format: "%3.0f%%", percent)
        let suf = completed >= total ? OllamaFormat.bytes(total) : OllamaFormat.bytes(completed) + "/" + OllamaFormat.bytes(total)
        let room = max(10, width - pre.count - suf.count - 5)
        let filled = Int(Double(room) * percent / 100)
        return pre + " ▕" + String(repeating: "█", count: filled) + String(repeating: " ", count: room - filled) + "▏ " + suf
    }

    private static func width() -> Int {
        var size = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }

    private func put(_ text: String) {
        _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}
