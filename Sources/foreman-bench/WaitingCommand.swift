import ArgumentParser
import FakeOllama
import ForemanTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue #19's fourth figure: what a native caller waiting in the queue costs foreman, and whether the memory comes
/// back. N callers each open a connection and send a chat while the box is held on another; foreman's RSS is read
/// with all of them waiting, and again `settle` seconds after they have all been answered.
struct WaitingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waiting",
        abstract: "KB of foreman's memory per native caller waiting in the queue, and its RSS after they have been answered."
    )

    @Option(help: "Callers waiting at once.") var callers = 1000
    @Option(help: "Seconds after the burst before the last RSS reading.") var settle = 60
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?

    func run() async throws {
        BurstCommand.raiseDescriptorLimit()
        try await Self.withWarmForeman(foreman, callers: callers) { fake, child, client, binary, idle in
            await fake.pause()
            let held = #"{"model":"llama3.2","messages":[{"role":"user","content":"hold"}],"stream":false,"options":{"num_predict":2}}"#
            let holder = Task { try await client.time(held, direct: false) }
            await fake.waitForGenerations(101)
            let request = "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(oneTokenChat.utf8.count)\r\n\r\n" + oneTokenChat
            let sockets = try Self.send(request, port: child.port, count: callers)
            while try await client.queueDepth() < callers { try await Task.sleep(for: .milliseconds(20)) }
            let waiting = child.residentKilobytes()

            await fake.resume()
            _ = try await holder.value
            while await fake.completedGenerations < 101 + callers { try await Task.sleep(for: .milliseconds(20)) }
            for socket in sockets { close(socket) }
            let answered = child.residentKilobytes()
            try await Task.sleep(for: .seconds(settle))
            let settled = child.residentKilobytes()

            let kept = try await Self.keptAlive(foreman, callers: callers, request: request)
            let opened = try await Self.openedIdle(foreman, callers: callers)
            print("foreman \(binary); \(callers) native callers waiting at once, fake target in-process, loopback.\n")
            printTable(["figure", "value", "target"], [
                ["per waiting caller", String(format: "%.1f KB", Double(waiting - idle) / Double(callers)), "16 KB"],
                ["RSS idle / with them waiting", "\(idle / 1024) MB / \(waiting / 1024) MB", ""],
                [
                    "RSS once answered / \(settle) s later",
                    "\(answered / 1024) MB / \(settled / 1024) MB (" + String(format: "%+.1f%%", Double(settled - idle) * 100 / Double(idle)) + " of idle)",
                    "within 10% of idle",
                ],
                ["per kept-alive connection, idle after one chat", String(format: "%.1f KB", kept), ""],
                ["per connection opened and left idle (the floor)", String(format: "%.1f KB", opened), ""],
            ])
        }
    }

    /// A foreman child with room for `callers` connections and queued calls, warmed up with 100 chats; `body` is also
    /// given its RSS then, in KB.
    static func withWarmForeman<T: Sendable>(
        _ foreman: String?, callers: Int, _ body: (FakeOllamaState, ForemanProcess, BenchClient, String, Int) async throws -> T
    ) async throws -> T {
        let environment = ["FOREMAN_MAX_CONNECTIONS": "\(callers + 64)"]
        return try await withForemanChild(foreman, maxQueue: callers + 100, environment: environment) { fake, child, client, binary in
            for _ in 0..<100 { _ = try await client.time(oneTokenChat, direct: false) }
            return try await body(fake, child, client, binary, child.residentKilobytes())
        }
    }

    /// KB per connection opened and never written to, in a foreman of its own: what a connection costs before any
    /// request, the floor under the other figures. The connections count once foreman holds a descriptor for each.
    static func openedIdle(_ foreman: String?, callers: Int) async throws -> Double {
        try await withWarmForeman(foreman, callers: callers) { _, child, _, _, idle in
            let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd").count) ?? 0 }
            let before = descriptors()
            var sockets: [Int32] = []
            defer { for socket in sockets { close(socket) } }
            for _ in 0..<callers { sockets.append(try LoopbackSocket.connect(port: child.port, nonBlocking: false)) }
            while descriptors() < before + callers { try await Task.sleep(for: .milliseconds(20)) }
            // Accepted; each connection's pipeline and task are set up on its loop right after.
            try await Task.sleep(for: .milliseconds(500))
            return Double(child.residentKilobytes() - idle) / Double(callers)
        }
    }

    /// KB per connection kept open after it was answered one chat, in a foreman of its own: what a connection holds
    /// between requests. Each answer is read before the next connection opens, so no two chats are handled at once.
    static func keptAlive(_ foreman: String?, callers: Int, request: String) async throws -> Double {
        try await withWarmForeman(foreman, callers: callers) { _, child, _, _, idle in
            var sockets: [Int32] = []
            defer { for socket in sockets { close(socket) } }
            var answer = [UInt8](repeating: 0, count: 65_536)
            for _ in 0..<callers {
                sockets += try send(request, port: child.port, count: 1)
                // The fake's answer is small and sent whole: one read that ends with its closing brace has it all.
                var read = 0
                repeat {
                    let socket = sockets[sockets.count - 1]
                    let count = answer.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + read, $0.count - read, 0) }
                    guard count > 0 else { throw ValidationError("read: connection closed") }
                    read += count
                } while answer[read - 1] != UInt8(ascii: "}")
            }
            return Double(child.residentKilobytes() - idle) / Double(callers)
        }
    }

    /// Opens `count` connections and writes `request` on each; the answers are left unread until the sockets close.
    static func send(_ request: String, port: Int, count: Int) throws -> [Int32] {
        var sockets: [Int32] = []
        for _ in 0..<count {
            let descriptor = try LoopbackSocket.connect(port: port, nonBlocking: false)
            sockets.append(descriptor)
            let written = request.withCString { write(descriptor, $0, strlen($0)) }
            guard written == request.utf8.count else { throw ValidationError("write: \(String(cString: strerror(errno)))") }
        }
        return sockets
    }
}
