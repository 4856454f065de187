import FakeOllama
import ForemanCore
import Foundation
import NIOCore
import Testing

extension ServerTests {
    /// ``HTTP1Target`` on its own against the fake target: kept connections, and the two timeouts (ADR 0010).
    @Suite("Target client")
    struct TargetClientTests {
        private func target(_ port: Int, headTimeout: Duration = .seconds(10), readTimeout: Duration = .seconds(10)) throws -> HTTP1Target {
            try HTTP1Target(
                url: URL(string: "http://127.0.0.1:\(port)")!,
                token: nil,
                connectTimeout: .seconds(2),
                headTimeout: headTimeout,
                readTimeout: readTimeout
            )
        }

        private func withFake<T: Sendable>(_ fake: FakeOllamaState, port: Int = 0, _ body: (Int) async throws -> T) async throws -> T {
            try await withRunningServer({ buildFakeOllama(state: fake, port: port, logger: quietLogger("fake"), onServerRunning: $0) }, body)
        }

        private static let version = TargetRequest(method: .GET, path: "/api/version")

        private static func chat(tokens: Int, stream: Bool) -> TargetRequest {
            let body = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":\#(stream),"options":{"num_predict":\#(tokens)}}"#
            return TargetRequest(method: .POST, path: "/api/chat", body: ByteBuffer(string: body))
        }

        @Test("requests carry the target's own Host, and a target that restarts between requests is reached again")
        func keptConnections() async throws {
            let fake = FakeOllamaState(tokenDelay: .zero)
            let (port, client) = try await withFake(fake) { port in
                let client = try target(port)
                for _ in 0..<3 {
                    let response = try await client.send(Self.version)
                    #expect(response.status == 200)
                    _ = try await response.body.collect(upTo: 1 << 16)
                }
                return (port, client)
            }
            // The first fake is gone with the connection it kept; a new one listens on the same port.
            try await withFake(FakeOllamaState(tokenDelay: .zero), port: port) { _ in
                let response = try await client.send(Self.version)
                #expect(response.status == 200)
                let body = try await response.body.collect(upTo: 1 << 16)
                #expect(String(buffer: body).contains("version"))
            }
            let sent = await fake.requests(to: "/api/version")
            #expect(sent.count == 3)
            #expect(sent.allSatisfy { $0.host == "127.0.0.1:\(port)" })
        }

        @Test("no response head within the head timeout is an unreachable target")
        func headTimeout() async throws {
            let fake = FakeOllamaState(tokenDelay: .zero)
            await fake.pause()  // a non-streamed answer is held before its second token, so no head comes
            try await withFake(fake) { port in
                let client = try target(port, headTimeout: .milliseconds(300))
                do {
                    _ = try await client.send(Self.chat(tokens: 2, stream: false))
                    Issue.record("a response head arrived from a paused target")
                } catch let error as TargetError {
                    guard case .unreachable(let reason) = error else {
                        Issue.record("expected unreachable, got \(error)")
                        return
                    }
                    #expect(reason.contains("no response head"))
                }
                await fake.resume()
            }
        }

        @Test("a pause inside a streamed body longer than the read timeout interrupts it")
        func readTimeout() async throws {
            let fake = FakeOllamaState(tokenDelay: .zero)
            await fake.pause()  // the first line streams, then the answer is held
            try await withFake(fake) { port in
                let client = try target(port, readTimeout: .milliseconds(300))
                let response = try await client.send(Self.chat(tokens: 3, stream: true))
                #expect(response.status == 200)
                var lines = 0
                do {
                    for try await chunk in response.body { lines += chunk.readableBytesView.filter { $0 == UInt8(ascii: "\n") }.count }
                    Issue.record("the body ended although the target was paused")
                } catch let error as TargetError {
                    #expect(error.description.contains("no data for"))
                }
                #expect(lines == 1)
                await fake.resume()
            }
        }
    }
}
