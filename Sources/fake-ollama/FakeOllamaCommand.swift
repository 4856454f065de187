import ArgumentParser
import FakeOllama
import Foundation
import Hummingbird

@main
struct FakeOllamaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-ollama",
        abstract: "A small Ollama-compatible server for trying foreman without a GPU box.",
        discussion: """
            Serves /api/chat, /api/generate (streamed token by token), /api/tags, /api/ps, /api/show, \
            /api/version, /api/embed and /api/embeddings for llama3.2, qwen2.5:7b and nomic-embed-text, \
            and OpenAI's /v1/models, /v1/chat/completions, /v1/completions and /v1/embeddings, /v1/messages and /v1/responses, as Ollama does. \
            Control it with curl: GET /_fake/state, POST /_fake/pause, POST /_fake/resume, and \
            POST /_fake/fail '{"path":"/api/chat","status":500,"error":"boom","times":1}'.
            """
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 11434
    @Option(name: .customLong("token-delay-ms"), help: "Pause between streamed tokens, in milliseconds.") var tokenDelayMs = 50
    @Option(name: .customLong("load-time-ms"), help: "How long loading each model takes, in milliseconds.") var loadTimeMs = 1000

    func run() async throws {
        let models = FakeModel.defaults.map { model -> FakeModel in
            var model = model
            model.loadTime = .milliseconds(loadTimeMs)
            return model
        }
        let state = FakeOllamaState(models: models, tokenDelay: .milliseconds(tokenDelayMs))
        let app = buildFakeOllama(state: state, host: host, port: port)
        try await app.runService()
    }
}
