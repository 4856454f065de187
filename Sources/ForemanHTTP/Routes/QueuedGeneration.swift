import ForemanEngine
import ForemanDomain
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Answers a native `/api/chat` or `/api/generate` call by running it as a queued job.
///
/// The response head is held back until the target's first line (or its error) arrives, as Ollama does,
/// so an error before any output keeps its real status. While the caller waits, a hang-up cancels
/// the job and so does passing `FOREMAN_MAX_WAIT` before the job starts. The connection stays open for the
/// caller's next request: the hang-up and the wait bound are watched by the connection's ``HangUpWatcher``
/// (ADR 0010), which reports both on the job's own event stream (ADR 0011).
struct QueuedGeneration: Sendable {
    let service: JobService
    let maxWait: Duration

    /// How the wait for a job's first output ended. It holds no response: it is returned to the frame that waited.
    private enum Start {
        /// Stream: the head is known and `first` are the first lines; the rest follows on the same events.
        case streaming(status: Int, contentType: String?, first: [ByteBuffer])
        /// The job ended before any output was streamed: how, the box's status and type, and what it wrote.
        case ended(JobOutcome, status: Int, contentType: String?, body: ByteBuffer)
        /// The job's events ended without its outcome.
        case unended
    }

    /// What a parked wait keeps of its call: it is held for the whole wait, so it holds little. A class, so that each
    /// frame of the wait holds a reference to it, not a copy.
    private final class Waiting: Sendable {
        let jobID: String
        let stream: Bool
        let ranOn: String?
        let position: Int
        let watch: JobWatch
        let channel: any Channel

        init(jobID: String, stream: Bool, ranOn: String?, position: Int, watch: JobWatch, channel: any Channel) {
            (self.jobID, self.stream, self.ranOn, self.position, self.watch, self.channel) = (jobID, stream, ranOn, position, watch, channel)
        }

        /// Queue visibility without touching the NDJSON body: the job id, and where it stood once queued.
        var visibility: HTTPFields {
            var fields: HTTPFields = [.foremanJobID: jobID]
            fields[.foremanQueuePosition] = String(position)
            return fields
        }
    }

    /// - Parameter answer: how the box's answer is written for the caller; the box's lines as they are by default.
    ///
    /// The wait for the job to start is parked (``ResponseParking``) where the connection offers it: the returned
    /// response is then a placeholder, and the connection's loop waits for the parked answer and writes it.
    func respond(to job: Job, context: ConnectionContext, answer: some GenerationAnswer = RelayedAnswer(surface: .ollama)) async throws -> Response {
        let (watch, placement) = try await service.submitAndWatch(job, caller: context.caller)
        context.interruptOnHangUp(watch, orAfter: maxWait)
        let waiting = Waiting(
            jobID: job.id, stream: job.stream, ranOn: job.ranOn, position: placement.position, watch: watch, channel: context.channel
        )
        let finish: ResponseParking.Finish = { [self] in await self.answer(waiting, answer: answer) }
        guard let parking = context.parking else {
            guard let response = await finish() else { throw CancellationError() }
            return response
        }
        parking.park(finish)
        // A placeholder, never written; the request log reads the job from it when the caller leaves unanswered.
        return Response(status: .accepted, headers: [.foremanJobID: job.id])
    }

    /// The answer once the job has started or ended; `nil` when the caller or the server has gone.
    private func answer(_ job: Waiting, answer: some GenerationAnswer) async -> Response? {
        guard let start = await waitForStart(job, answer: answer) else { return nil }
        return await answered(start, job: job, answer: answer)
    }

    /// The response once the wait has ended. Not inlined: its locals would otherwise take room in the frame that
    /// waits, and a task keeps the deepest its frames ever went (ADR 0024).
    @inline(never)
    private func answered(_ start: Start, job: Waiting, answer: some GenerationAnswer) async -> Response {
        var response: Response
        switch start {
        case .streaming(let status, let contentType, let first):
            response = streamed(status: status, contentType: contentType, first: first, job: job, answer: answer)
        case .ended(let outcome, let status, let contentType, let body):
            response = await completeResponse(outcome, job: job, answer: answer, status: status, contentType: contentType, body: body)
        case .unended:
            response = APIError(.internalServerError, "job ended without an outcome").response(for: answer.surface)
        }
        response.headers.append(contentsOf: job.visibility)
        return response
    }

    /// The response that streams the job's output from its first lines on.
    private func streamed(status: Int, contentType: String?, first: [ByteBuffer], job: Waiting, answer: some GenerationAnswer) -> Response {
        Response(
            status: .init(code: status),
            headers: [.contentType: answer.streamContentType(contentType)],
            body: ResponseBody { writer in
                var answer = answer
                try await relay(job.watch.events, first: first, jobID: job.jobID, answer: &answer, writer: &writer)
            }
        )
    }

    /// Waits for the job's first output (or its end); `nil` when the caller or the server has gone, and the job with
    /// them.
    private func waitForStart(_ job: Waiting, answer: some GenerationAnswer) async -> Start? {
        var started = false
        var status = 200
        var contentType: String?
        var body = ByteBuffer()
        for await event in job.watch.events {
            switch event {
            case .started(let upstreamStatus, let upstreamType):
                started = true  // the wait bound covers the queue, not the generation
                status = upstreamStatus
                contentType = upstreamType
            case .lines(let lines):
                // A refusal is answered whole, with its status, even to a caller that asked for a stream.
                if job.stream, (200..<300).contains(status) { return .streaming(status: status, contentType: contentType, first: lines) }
                for line in lines { body.writeImmutableBuffer(line) }
            case .finished(let outcome):
                return .ended(outcome, status: status, contentType: contentType, body: body)
            case .interrupted(.callerGone):
                // The caller hung up: a job still waiting must never reach the target, a running one stops.
                await service.cancel(job.jobID, reason: .callerGone)
                return nil
            case .interrupted(let reason):
                // The wait bound passed. It covers the wait for the job to start: in the queue, or for an unreachable
                // target. A job the target is working on (loading its model, or generating an answer it does not
                // stream, whose head comes last) is left alone, and the bound checks again later in case the target
                // goes away meanwhile.
                if started { continue }
                if await !service.waitBoundEnds(job.jobID) {
                    // The bound starts again.
                    ConnectionContext.interruptOnHangUp(job.watch, on: job.channel, orAfter: maxWait)
                    continue
                }
                await service.cancel(job.jobID, reason: reason)  // its cancellation arrives as the `finished` event
            }
        }
        if Task.isCancelled {
            // The handler itself was cancelled (the server is going away): nobody will read the answer.
            await service.cancel(job.jobID, reason: .callerGone)
            return nil
        }
        return .unended
    }

    /// Not inlined: `answered` runs where the wait ran, and its frame would grow by all of this.
    @inline(never)
    private func completeResponse(
        _ outcome: JobOutcome, job: Waiting, answer: some GenerationAnswer, status: Int, contentType: String?, body: ByteBuffer
    ) async -> Response {
        switch outcome {
        case .succeeded where (200..<300).contains(status):
            let (written, type) = answer.whole(body, contentType: contentType)
            return Response(status: .init(code: status), headers: [.contentType: type], body: .init(byteBuffer: written))
        case .succeeded, .upstreamError where !(200..<300).contains(status):
            // The box's own refusal, with its status.
            let type = answer.surface == .ollama ? (contentType ?? "application/json; charset=utf-8") : "application/json"
            return Response(status: .init(code: status), headers: [.contentType: type], body: .init(byteBuffer: answer.refusal(body, status: status)))
        case .upstreamError(let message):
            return APIError(.internalServerError, message).response(for: answer.surface)
        case .interrupted(let message):
            return APIError(.badGateway, message).response(for: answer.surface)
        case .cancelled(let reason):
            let inventory = (job.ranOn.flatMap(service.fleet.provider(named:)) ?? service.fleet.providers[0]).inventory
            return await Self.cancelledError(reason, inventory: inventory).response(for: answer.surface)
        }
    }

    /// The answer to a caller whose job was cancelled before it produced output.
    static func cancelledError(_ reason: CancelReason, inventory: Inventory) async -> APIError {
        switch reason {
        case .waitTimeout:
            let snapshot = await inventory.snapshot
            if snapshot.degraded {
                return APIError(.gatewayTimeout, "timed out waiting for the ollama target: \(snapshot.lastError ?? "unreachable")")
            }
            return APIError(.serviceUnavailable, "timed out waiting in the queue", headers: [.retryAfter: "5"])
        case .shutdown:
            return APIError(.serviceUnavailable, "foreman is shutting down", headers: [.retryAfter: "5"])
        case .callerGone, .requested:
            return APIError(.init(code: 499), "request canceled")
        }
    }

    private func relay<Answer: GenerationAnswer>(
        _ events: JobEventStream,
        first: [ByteBuffer],
        jobID: String,
        answer: inout Answer,
        writer: inout any ResponseBodyWriter
    ) async throws {
        do {
            try await Self.write(first, answer: &answer, to: &writer)
            // The call is announced as running now, before the connection's request line, queued as the head went out
            // (ADR 0033).
            events.firstLinesWritten()
            // While the relay waits, the run writes the box's next lines itself, straight to the connection (ADR 0027).
            if answer.streamsLinesAsTheyCame, let direct = (writer as? HeadDeferringWriter)?.afterHeadWriter {
                events.sinkLines { lines in
                    guard let part = Self.joined(lines) else { return true }
                    return (try? direct.writeNow(part)) ?? false
                }
            }
            defer { events.sinkLines(nil) }
            for await event in events {
                switch event {
                case .lines(let lines):
                    try await Self.write(lines, answer: &answer, to: &writer)
                case .finished(.interrupted(let message)):
                    try await writer.write(answer.streamError(message))
                case .finished(.cancelled(let reason)):
                    try await writer.write(answer.streamError(reason.rawValue))
                case .interrupted(.callerGone):
                    throw CancellationError()  // nobody reads the rest: stop the generation below
                case .started, .finished, .interrupted:
                    break  // a wait bound passing after the start does not apply
                }
            }
        } catch {
            // Writing failed: the caller is gone, so stop spending the GPU on it.
            await service.cancel(jobID, reason: .callerGone)
            throw error
        }
        try await writer.finish(nil)
    }
}

extension QueuedGeneration {
    /// Writes `lines` as the caller's surface streams them, in one buffer: one write, and one flush, per read from
    /// the box. Nothing is written when they make nothing: an empty chunk would end the chunked body.
    static func write<Answer: GenerationAnswer>(_ lines: [ByteBuffer], answer: inout Answer, to writer: inout any ResponseBodyWriter) async throws {
        var pieces: [ByteBuffer] = []
        for line in lines { pieces += answer.streamed(line) }
        if let part = joined(pieces) { try await writer.write(part) }
    }

    /// `pieces` as one buffer; `nil` when they hold nothing.
    static func joined(_ pieces: [ByteBuffer]) -> ByteBuffer? {
        if pieces.count == 1 { return pieces[0].readableBytes > 0 ? pieces[0] : nil }
        let size = pieces.reduce(0) { $0 + $1.readableBytes }
        guard size > 0 else { return nil }
        var joined = ByteBuffer()
        joined.reserveCapacity(size)
        for piece in pieces { joined.writeImmutableBuffer(piece) }
        return joined
    }
}

extension HTTPField.Name {
    static let foremanJobID = Self("X-Foreman-Job-Id")!
    static let foremanQueuePosition = Self("X-Foreman-Queue-Position")!
}
