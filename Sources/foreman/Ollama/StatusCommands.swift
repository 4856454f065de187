import ArgumentParser
import ForemanApp
import Foundation

/// `foreman ps`: the models loaded on the boxes, as `ollama ps` shows them, then what each box runs and what waits
/// for it, by model.
struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List loaded models (as `ollama ps`), then each provider's running job and queue.")
    @OptionGroup var connection: JobsCommand.Connection

    func run() async throws {
        let client = connection.client
        let loaded = try OllamaAnswer.object(try await CommandOutput.reaching { try await client.loaded() })
        let rows = (loaded["models"] as? [[String: Any]] ?? []).map { model -> [String] in
            let size = (model["size"] as? NSNumber)?.int64Value ?? 0
            let vram = (model["size_vram"] as? NSNumber)?.int64Value ?? 0
            let processor: String
            if vram == 0 {
                processor = "100% CPU"
            } else if vram == size {
                processor = "100% GPU"
            } else if vram > size || size == 0 {
                processor = "Unknown"
            } else {
                let cpu = Int((Double(size - vram) / Double(size) * 100).rounded())
                processor = "\(cpu)%/\(100 - cpu)% CPU/GPU"
            }
            let expires = OllamaFormat.date(model["expires_at"])
            let until = expires.map { $0 < Date() ? "Stopping..." : OllamaFormat.time($0, zero: "Never") } ?? "Never"
            let context = (model["context_length"] as? NSNumber).map { "\($0.intValue)" } ?? ""
            return [model["name"] as? String ?? "", OllamaFormat.shortID(model["digest"]), OllamaFormat.bytes(size), processor, context, until]
        }
        var text = OllamaFormat.table(["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"], rows)
        // The queue needs the jobs scope; without it, the models alone.
        let queue = try await CommandOutput.reaching { try await client.queue() }
        if queue.isSuccess, let lines = queue.object?["providers"] as? [[String: Any]] {
            let rows = lines.map { line -> [String] in
                var counts: [String: Int] = [:]
                for job in line["queued"] as? [[String: Any]] ?? [] { counts[job["model"] as? String ?? "", default: 0] += 1 }
                let queued = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                return [line["provider"] as? String ?? "(any)", OllamaFormat.running(line["running"]), queued.isEmpty ? "-" : queued.joined(separator: ", ")]
            }
            text += "\n" + OllamaFormat.table(["PROVIDER", "RUNNING", "QUEUED"], rows)
        }
        CommandOutput.emit(Data(text.utf8))
    }
}

/// `foreman status`: whether foreman and its boxes are well, and how much waits.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show foreman's health, its providers and its queue.")
    @OptionGroup var connection: JobsCommand.Connection

    func run() async throws {
        let client = connection.client
        // `/healthz` answers 503 when degraded, with the same report.
        let answer = try await CommandOutput.reaching { try await client.health() }
        guard let health = answer.object else { CommandOutput.fail(answer.errorMessage, exitCode: CommandOutput.serverErrorCode) }
        var text = "foreman at \(client.baseURL): \(health["status"] as? String ?? "unknown")\n"
        if let depth = health["queue_depth"] as? Int { text += "queue: \(depth) waiting\n" }
        if let error = health["store_error"] as? String { text += "store: \(error)\n" }
        let rows = (health["providers"] as? [[String: Any]] ?? []).map { provider -> [String] in
            return [
                provider["name"] as? String ?? "", provider["kind"] as? String ?? "", (provider["reachable"] as? Bool ?? false) ? "yes" : "no",
                "\(provider["models"] as? Int ?? 0)", OllamaFormat.running(provider["running_jobs"]),
            ]
        }
        if !rows.isEmpty { text += "\n" + OllamaFormat.table(["PROVIDER", "KIND", "REACHABLE", "MODELS", "RUNNING"], rows) }
        CommandOutput.emit(Data(text.utf8))
        if health["status"] as? String != "ok" { throw ExitCode(CommandOutput.serverErrorCode) }
    }
}
