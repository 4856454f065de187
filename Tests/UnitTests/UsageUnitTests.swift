import ForemanDomain
@testable import ForemanEngine
import Foundation
import NIOCore
import Testing

/// Usage as the box reports it, UTC days, and each key's account (ADR 0022).
@Suite("Keys: usage figures and accounts")
struct UsageUnitTests {
    private func lines(_ texts: [String]) -> [ByteBuffer] { texts.map { ByteBuffer(string: $0) } }

    @Test("Ollama's last line: prompt_eval_count, eval_count and total_duration")
    func ollamaCounts() {
        let usage = ReportedUsage.of(
            lines: lines([
                #"{"model":"m","message":{"role":"assistant","content":"a"},"done":false}"#,
                #"{"model":"m","message":{"role":"assistant","content":""},"done":true,"total_duration":2500000000,"prompt_eval_count":26,"eval_count":7}"#,
            ]),
            runSeconds: 9
        )
        #expect(usage == JobUsage(promptTokens: 26, generatedTokens: 7, seconds: 2.5))
        #expect(usage.tokens == 33)
    }

    @Test("a long stream: only its head and its tail are read, and the counts come from its last line")
    func longStream() {
        var texts = (0..<500).map { #"{"message":{"content":"t\#($0)"},"done":false}"# }
        texts.append(#"{"done":true,"prompt_eval_count":3,"eval_count":500}"#)
        #expect(ReportedUsage.of(lines: lines(texts), runSeconds: 1.25) == JobUsage(promptTokens: 3, generatedTokens: 500, seconds: 1.25))
    }

    @Test("OpenAI's usage, whole and in a stream's last chunk; llama.cpp's timings when no usage is sent")
    func openAIUsage() {
        let whole = #"{"id":"c","object":"chat.completion","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":4,"total_tokens":15}}"#
        #expect(ReportedUsage.of(lines: lines([whole]), runSeconds: 0.5) == JobUsage(promptTokens: 11, generatedTokens: 4, seconds: 0.5))
        let stream = [
            #"data: {"choices":[{"delta":{"content":"a"}}]}"#, "",
            #"data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}"#, "", "data: [DONE]", "",
        ]
        #expect(ReportedUsage.of(lines: lines(stream), runSeconds: 1) == JobUsage(promptTokens: 12, generatedTokens: 5, seconds: 1))
        let timed = [#"data: {"choices":[{"finish_reason":"stop"}],"timings":{"prompt_n":9,"predicted_n":3}}"#, "data: [DONE]"]
        #expect(ReportedUsage.of(lines: lines(timed), runSeconds: 1) == JobUsage(promptTokens: 9, generatedTokens: 3, seconds: 1))
    }

    @Test("Anthropic's stream: input tokens in message_start, output tokens in the last message_delta")
    func anthropicStream() {
        var stream = ["event: message_start", #"data: {"type":"message_start","message":{"id":"m","content":[],"usage":{"input_tokens":26,"output_tokens":1}}}"#, ""]
        for index in 0..<20 { stream += ["event: content_block_delta", #"data: {"type":"content_block_delta","delta":{"text":"t\#(index)"}}"#, ""] }
        stream += [
            "event: message_delta", #"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}"#, "",
            "event: message_stop", #"data: {"type":"message_stop"}"#, "",
        ]
        #expect(ReportedUsage.of(lines: lines(stream), runSeconds: 2) == JobUsage(promptTokens: 26, generatedTokens: 20, seconds: 2))
    }

    @Test("the Responses API's last event holds its usage in `response`")
    func responsesStream() {
        let stream = [
            "event: response.completed",
            #"data: {"type":"response.completed","response":{"id":"r","output":[],"usage":{"input_tokens":8,"output_tokens":6,"total_tokens":14}}}"#, "",
        ]
        #expect(ReportedUsage.of(lines: lines(stream), runSeconds: 1) == JobUsage(promptTokens: 8, generatedTokens: 6, seconds: 1))
    }

    @Test("an answer without counts is a request of no tokens, timed by the run; a chat's message is not mistaken for a holder")
    func noCounts() {
        #expect(ReportedUsage.of(lines: [], runSeconds: 0.75) == JobUsage(seconds: 0.75))
        let chat = #"{"message":{"role":"assistant","content":"{\"usage\":{\"prompt_tokens\":99}}"},"done":true,"prompt_eval_count":2,"eval_count":1}"#
        #expect(ReportedUsage.of(lines: lines([chat]), runSeconds: 1) == JobUsage(promptTokens: 2, generatedTokens: 1, seconds: 1))
    }

    @Test("an embeddings answer's counts are read from its tail, however long its vectors")
    func embeddings() {
        let vectors = "[" + Array(repeating: "0.123456", count: 50_000).joined(separator: ",") + "]"
        let native = #"{"model":"e","embeddings":["# + vectors + #"],"total_duration":40000000,"load_duration":1,"prompt_eval_count":16}"#
        #expect(ReportedUsage.ofEmbeddings(ByteBuffer(string: native), runSeconds: 9) == JobUsage(promptTokens: 16, seconds: 0.04))
        let openAI = #"{"object":"list","data":[{"embedding":"# + vectors + #"}],"model":"e","usage":{"prompt_tokens":8,"total_tokens":8}}"#
        #expect(ReportedUsage.ofEmbeddings(ByteBuffer(string: openAI), runSeconds: 0.5) == JobUsage(promptTokens: 8, seconds: 0.5))
        #expect(ReportedUsage.ofEmbeddings(ByteBuffer(string: #"{"embedding":[0.1]}"#), runSeconds: 0.5) == JobUsage(seconds: 0.5))
    }

    @Test("UTC days: read and written as yyyy-MM-dd, impossible dates refused, and where a day ends")
    func days() throws {
        let day = try #require(UTCDay(text: "2026-12-05"))
        #expect(day.text == "2026-12-05")
        #expect(UTCDay(Date(timeIntervalSince1970: 1_796_515_199)) == UTCDay(text: "2026-12-05"))
        #expect(day.end == Date(timeIntervalSince1970: 1_796_515_200))
        #expect(day.adding(days: 27).text == "2027-01-01")
        #expect(UTCDay(text: "1970-01-01")?.ordinal == 0)
        for bad in ["2026-02-30", "2026-13-01", "2026-1-05", "20261205", "", "2026-12-05T00:00", "abcd-ef-gh", "2026-12-+5"] {
            #expect(UTCDay(text: bad) == nil, "\(bad)")
        }
    }

    @Test("an account reserves up to its cap, releases each end once, and counts tokens by day")
    func ledger() {
        let ledger = KeyLedger()
        #expect(ledger.reserve(owner: "k", cap: 2) && ledger.reserve(owner: "k", cap: 2))
        #expect(!ledger.reserve(owner: "k", cap: 2))
        #expect(ledger.reserve(owner: "other", cap: 1), "each key has its own count")
        #expect(ledger.reserve(owner: "k", cap: nil), "no cap, still counted")
        #expect(ledger.active(owner: "k") == 3)
        var job = Job(kind: .chat, origin: .jobs, model: "m", priority: 0, request: Data(), stream: false)
        job.owner = "k"
        job.state = .succeeded
        job.finishedAt = Date(timeIntervalSince1970: 86_400 * 3 + 10)
        job.usage = JobUsage(promptTokens: 5, generatedTokens: 6)
        ledger.ended(job)
        #expect(ledger.active(owner: "k") == 2)
        #expect(ledger.tokens(owner: "k", on: UTCDay(ordinal: 3)) == 11)
        #expect(ledger.tokens(owner: "k", on: UTCDay(ordinal: 4)) == 0, "a new day starts at nothing")
        job.origin = .batch
        ledger.ended(job)
        #expect(ledger.active(owner: "k") == 2, "a batch line was never counted")
        #expect(ledger.tokens(owner: "k", on: UTCDay(ordinal: 3)) == 22, "but its tokens are")
        ledger.add(JobUsage(promptTokens: 1), owner: "k", on: UTCDay(ordinal: 4))
        #expect(ledger.tokens(owner: "k", on: UTCDay(ordinal: 4)) == 1)
        ledger.add(JobUsage(promptTokens: 100), owner: "k", on: UTCDay(ordinal: 3))
        #expect(ledger.tokens(owner: "k", on: UTCDay(ordinal: 4)) == 1, "a late report of yesterday does not count today")
        for _ in 0..<5 { ledger.release(owner: "k") }
        #expect(ledger.active(owner: "k") == 0, "never below nothing")
        ledger.load(active: ["k": 4], tokens: ["k": 9], on: UTCDay(ordinal: 4))
        #expect(ledger.active(owner: "k") == 4 && ledger.tokens(owner: "k", on: UTCDay(ordinal: 4)) == 9)
        #expect(ledger.active(owner: "other") == 0, "a key with nothing left in the store starts at nothing")
    }
}
