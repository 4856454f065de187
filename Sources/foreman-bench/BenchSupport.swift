import AsyncHTTPClient
import FakeOllama
import ForemanCore
import ForemanServer
import Foundation
import Logging
import NIOCore

/// Starts the fake target and foreman in front of it, runs `body`, stops both.
func withForeman<T: Sendable>(
    fake: FakeOllamaState,
    configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
    _ body: (BenchTarget) async throws -> T
) async throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    return try await withRunningService({ onRunning in
        buildFakeOllama(state: fake, port: 0, logger: silentLogger(), onServerRunning: onRunning)
    }) { fakePort in
        var config = ForemanConfig()
        config.address = HostPort(host: "127.0.0.1", port: 0)
        config.ollamaURL = "http://127.0.0.1:\(fakePort)"
        config.token = "bench"
        config.databasePath = folder.appendingPathComponent("foreman.db").path
        config.maxQueue = 1_000_000
        configure(&config)
        let final = config
        return try await withRunningService({ onRunning in
            try await buildApplication(config: final, logger: silentLogger(), onServerRunning: onRunning)
        }) { port in
            try await body(BenchTarget(foremanPort: port, fakePort: fakePort, fake: fake))
        }
    }
}

/// Both servers of one benchmark run, and an HTTP client for them.
struct BenchTarget: Sendable {
    let foremanPort: Int
    let fakePort: Int
    let fake: FakeOllamaState

    /// Sends `body` to foreman (or straight to the fake) and returns status and body.
    func post(_ path: String, _ body: String, direct: Bool = false) async throws -> (status: Int, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(direct ? fakePort : foremanPort)\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer bench")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        return (Int(response.status.code), try await response.body.collect(upTo: 64 << 20))
    }

    func get(_ path: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(foremanPort)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer bench")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
    }
}

func silentLogger() -> Logger {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    return logger
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

