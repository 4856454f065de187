import FakeOllama
import ForemanTestSupport
import Foundation

/// A chat of one token, not streamed: the warm-up of every figure, and the call whose fixed cost several measure.
let oneTokenChat = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":1}}"#

/// Runs `body` with the fake target (no load time, no token delay) in this process and the `foreman` binary (default:
/// the one next to this one) as a child in front of it, on a fresh database. `body` gets the binary's path too.
func withForemanChild<T: Sendable>(
    _ binary: String?,
    maxQueue: Int,
    environment: [String: String] = [:],
    _ body: (FakeOllamaState, ForemanProcess, BenchClient, String) async throws -> T
) async throws -> T {
    let binary = binary.map { URL(fileURLWithPath: $0) } ?? ForemanProcess.siblingBinary
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let fake = FakeOllamaState(models: FakeModel.defaults.map { var model = $0; model.loadTime = .zero; return model }, tokenDelay: .zero)
    return try await withRunningService({ buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: $0) }) { fakePort in
        let child = try ForemanProcess(binary: binary, environment: [
            "FOREMAN_OLLAMA_URL": "http://127.0.0.1:\(fakePort)", "FOREMAN_TOKEN": "bench",
            "FOREMAN_DB": folder.appendingPathComponent("foreman.db").path, "FOREMAN_MAX_QUEUE": "\(maxQueue)",
            "FOREMAN_LOG_LEVEL": "info",
        ].merging(environment) { $1 })
        defer { child.terminate() }
        try await child.waitUntilServing()
        return try await body(fake, child, BenchClient(foremanPort: child.port, fakePort: fakePort), binary.path)
    }
}

/// Prints rows as an aligned Markdown table, ready for the README.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
    }
    print(line(header))
    print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
    for row in rows { print(line(row)) }
}

/// The process's user and system CPU time, from `/proc/PID/stat`.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
