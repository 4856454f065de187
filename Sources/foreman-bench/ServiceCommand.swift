import ArgumentParser
import AsyncHTTPClient
import FakeOllama
import ForemanTestSupport
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue #5's four figures against the real `foreman` binary (a child process) and the fake target (in this
/// process): added latency, added time to first line, durable submissions per second, and RSS.
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Added latency (p50/p99), added time to first NDJSON line, durable POST /jobs per second, RSS idle and with queued jobs."
    )

    @Option(help: "Requests for each latency figure (each way).") var requests = 2000
    @Option(help: "Keep-alive connections submitting jobs at once.") var clients = 32
    @Option(help: "Submissions timed for the throughput figure.") var submissions = 20_000
    @Option(help: "Jobs queued for the second RSS figure.") var queued = 100_000
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?

    func run() async throws {
        try await withForemanChild(foreman, maxQueue: queued + submissions + 10) { fake, child, client, binary in
            let idleRSS = child.residentKilobytes()

            let chat = oneTokenChat
            let streamed = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":4}}"#
            let show = #"{"model":"llama3.2"}"#
            for _ in 0..<100 {  // warm both paths up
                _ = try await client.time(chat, direct: true)
                _ = try await client.time(chat, direct: false)
            }
            var direct: [Double] = [], through: [Double] = [], directFirst: [Double] = [], throughFirst: [Double] = []
            var directShow: [Double] = [], throughShow: [Double] = []
            for _ in 0..<requests {
                direct.append(try await client.time(chat, direct: true))
                through.append(try await client.time(chat, direct: false))
                directFirst.append(try await client.timeToFirstLine(streamed, direct: true))
                throughFirst.append(try await client.timeToFirstLine(streamed, direct: false))
            }
            for _ in 0..<requests {  // after the four figures, so as not to change them
                directShow.append(try await client.time(show, path: "/api/show", direct: true))
                throughShow.append(try await client.time(show, path: "/api/show", direct: false))
            }
            // OpenAI's API (ADR 0019): straight to the target's own `/v1`, against foreman's, which makes it a native
            // call and the answer OpenAI's again.
            let openAIChat = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"max_tokens":1}"#
            var directOpenAI: [Double] = [], throughOpenAI: [Double] = []
            for _ in 0..<100 {
                _ = try await client.time(openAIChat, path: "/v1/chat/completions", direct: true)
                _ = try await client.time(openAIChat, path: "/v1/chat/completions", direct: false)
            }
            for _ in 0..<requests {
                directOpenAI.append(try await client.time(openAIChat, path: "/v1/chat/completions", direct: true))
                throughOpenAI.append(try await client.time(openAIChat, path: "/v1/chat/completions", direct: false))
            }

            // Durable submissions: the worker is held on one job so the queue only grows.
            await fake.pause()
            // Two tokens: the paused fake holds a generation before its second token (one token would not be held),
            // so the first job stays running and every later one stays queued.
            let job = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":2}}}"#
            _ = try await client.post("/jobs", job)
            await fake.waitForGenerations(400 + 6 * requests + 1)
            let request = "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(job.utf8.count)\r\n\r\n" + job
            let clock = ContinuousClock()
            let start = clock.now
            try await SubmissionLoad.run(port: child.port, request: request, count: submissions, connections: clients, expectedStatus: 202)
            let rate = Double(submissions) / (clock.now - start).seconds
            try await SubmissionLoad.run(port: child.port, request: request, count: max(0, queued - submissions - 1), connections: clients, expectedStatus: 202)
            let queuedRSS = child.residentKilobytes()
            let depth = try await client.queueDepth()
            let expectedDepth = max(submissions, queued - 1)  // behind the one held running
            guard depth == expectedDepth else {
                throw ValidationError("expected \(expectedDepth) queued jobs, found \(depth): the worker was not held")
            }
            // Reading a deep queue: a page of the newest queued jobs, and the newest one alone (issue #13).
            var pageTimes: [Double] = [], jobTimes: [Double] = []
            let (_, firstPage) = try await client.timeGet("/jobs?state=queued&limit=50")
            let page = try JSONSerialization.jsonObject(with: Data(firstPage.readableBytesView)) as? [String: Any]
            guard let newest = ((page?["jobs"] as? [[String: Any]])?.first?["id"]) as? String else { throw ValidationError("no queued job listed") }
            for _ in 0..<100 {
                pageTimes.append(try await client.timeGet("/jobs?state=queued&limit=50").seconds)
                jobTimes.append(try await client.timeGet("/jobs/\(newest)").seconds)
            }
            await fake.resume()

            let p = Percentiles.self
            print("foreman \(binary); fake target in-process; \(requests) requests each way, sequential, loopback.\n")
            printTable(["figure", "direct to target", "through foreman", "added", "ratio"], [
                ["non-streaming chat, p50", p.ms(p.at(0.50, direct)), p.ms(p.at(0.50, through)), p.ms(p.at(0.50, through) - p.at(0.50, direct)), p.ratio(p.at(0.50, through), p.at(0.50, direct))],
                ["non-streaming chat, p99", p.ms(p.at(0.99, direct)), p.ms(p.at(0.99, through)), p.ms(p.at(0.99, through) - p.at(0.99, direct)), p.ratio(p.at(0.99, through), p.at(0.99, direct))],
                ["first NDJSON line, p50", p.ms(p.at(0.50, directFirst)), p.ms(p.at(0.50, throughFirst)), p.ms(p.at(0.50, throughFirst) - p.at(0.50, directFirst)), p.ratio(p.at(0.50, throughFirst), p.at(0.50, directFirst))],
                ["first NDJSON line, p99", p.ms(p.at(0.99, directFirst)), p.ms(p.at(0.99, throughFirst)), p.ms(p.at(0.99, throughFirst) - p.at(0.99, directFirst)), p.ratio(p.at(0.99, throughFirst), p.at(0.99, directFirst))],
                [
                    "non-streaming /v1/chat/completions, p50", p.ms(p.at(0.50, directOpenAI)), p.ms(p.at(0.50, throughOpenAI)),
                    p.ms(p.at(0.50, throughOpenAI) - p.at(0.50, directOpenAI)), p.ratio(p.at(0.50, throughOpenAI), p.at(0.50, directOpenAI)),
                ],
                // Not one of the figures: a proxied call with no job, for how much of the added latency is the hop.
                ["for scale: POST /api/show (proxied, no job), p50", p.ms(p.at(0.50, directShow)), p.ms(p.at(0.50, throughShow)), p.ms(p.at(0.50, throughShow) - p.at(0.50, directShow)), p.ratio(p.at(0.50, throughShow), p.at(0.50, directShow))],
            ])
            print("")
            printTable(["figure", "value", "target", "ratio to target"], [
                ["durable POST /jobs per second (\(clients) clients, \(submissions) jobs)", String(format: "%.0f", rate), "10000", String(format: "%.2f", rate / 10_000)],
                ["RSS idle", "\(idleRSS / 1024) MB", "40 MB", String(format: "%.2f", Double(idleRSS) / 1024 / 40)],
                ["RSS with \(queued) queued jobs", "\(queuedRSS / 1024) MB", "80 MB", String(format: "%.2f", Double(queuedRSS) / 1024 / 80)],
                ["GET /jobs?state=queued&limit=50 with \(queued) queued, p50", p.ms(p.at(0.50, pageTimes)), "5 ms", String(format: "%.2f", p.at(0.50, pageTimes) * 1000 / 5)],
                ["GET /jobs/{newest queued} with \(queued) queued, p50", p.ms(p.at(0.50, jobTimes)), "5 ms", String(format: "%.2f", p.at(0.50, jobTimes) * 1000 / 5)],
            ])
        }
    }
}

enum Percentiles {
    static func at(_ fraction: Double, _ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.3f ms", seconds * 1000) }
    static func ratio(_ a: Double, _ b: Double) -> String { String(format: "%.2f×", a / b) }
}
