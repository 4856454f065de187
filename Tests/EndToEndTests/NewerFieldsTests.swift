import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// Fields newer Ollama versions accept reach the box untouched (issue #18): foreman forwards a native call's
    /// bytes as the caller wrote them.
    @Suite("Newer Ollama fields")
    struct NewerFieldsTests {
        @Test(
            "think levels, logprobs and top_logprobs, truncate, shift, tool_name and tool_call_id reach the box byte for byte",
            arguments: [
                ("/api/chat", #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false,"think":"high"}"#),
                ("/api/chat", #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false,"logprobs":true,"top_logprobs":3}"#),
                ("/api/chat", #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false,"truncate":true,"shift":false}"#),
                (
                    "/api/chat",
                    #"{"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":"","tool_calls":[{"id":"call_1","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},{"role":"tool","content":"sunny","tool_name":"get_weather","tool_call_id":"call_1"}]}"#
                ),
                ("/api/generate", #"{"model":"llama3.2","prompt":"hi","stream":false,"think":"low","logprobs":true,"top_logprobs":2,"truncate":false,"shift":true}"#),
            ]
        )
        func generationFields(path: String, body: String) async throws {
            try await Harness.run { harness in
                let answer = try await harness.request(.POST, path, json: body)
                #expect(answer.status == 200, "\(answer.body)")
                #expect(await harness.fake.requests(to: path).last?.body == body)
            }
        }

        @Test("/api/embed: dimensions and truncate reach the box")
        func embedFields() async throws {
            try await Harness.run { harness in
                let body = #"{"model":"nomic-embed-text","input":["a","b"],"dimensions":64,"truncate":false}"#
                let answer = try await harness.request(.POST, "/api/embed", json: body)
                #expect(answer.status == 200, "\(answer.body)")
                let sent = try #require(await harness.fake.requests(to: "/api/embed").last?.body)
                let object = try #require(try JSONSerialization.jsonObject(with: Data(sent.utf8)) as? [String: Any])
                #expect(object["dimensions"] as? Int == 64 && object["truncate"] as? Bool == false, "\(sent)")
            }
        }
    }
}
