import ForemanEngine
import ForemanDomain
import Hummingbird
import Logging

/// One log line per request: method, path, status, duration and the job id when there is one.
///
/// Never the `Authorization` header; the body (prompts) only with `FOREMAN_LOG_BODIES=1`, and even then without the
/// credentials of any URL in it.
///
/// A parked response (``ResponseParking``) is logged when it is finished, with its real status.
struct RequestLogMiddleware<Context: ParkingRequestContext>: RouterMiddleware {
    let logger: Logger
    let logBodies: Bool
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var request = request
        var line = Line(method: request.method.rawValue, path: request.uri.path)
        if logBodies, request.method == .post, let body = try? await request.collectBody(upTo: maxBodyBytes) {
            line.body = URLRedaction.redactingUserinfo(in: String(buffer: body))
        }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            log(line, status: APIError.from(error).status.code, job: nil, since: start)
            throw error
        }
        if let parking = context.parking, parking.isParked {
            let job = response.headers[.foremanJobID]
            parking.onFinished { [self, line] finished in
                // None: the caller hung up, or the server is going away (`APIError` of a `CancellationError`).
                log(line, status: finished?.status.code ?? 499, job: finished?.headers[.foremanJobID] ?? job, since: start)
            }
        } else {
            log(line, status: response.status.code, job: response.headers[.foremanJobID], since: start)
        }
        return response
    }

    /// What a request's line says of the request itself. Its fields, not their `Logger.Metadata`: a parked
    /// response's line is written when it is finished, and a dictionary kept for the wait would cost every waiting
    /// call a third of a kilobyte (ADR 0024).
    private struct Line: Sendable {
        let method: String
        let path: String
        var body: String?
    }

    private func log(_ line: Line, status: Int, job: String?, since start: ContinuousClock.Instant) {
        var metadata: Logger.Metadata = ["method": "\(line.method)", "path": "\(line.path)"]
        if let body = line.body { metadata["body"] = "\(body)" }
        metadata["status"] = "\(status)"
        if let job { metadata["job"] = "\(job)" }
        metadata["duration_ms"] = "\(Self.milliseconds(since: start))"
        logger.info("request", metadata: metadata)
    }

    /// For a streamed answer this is the time to its head: the stream itself is logged as the job's transitions.
    private static func milliseconds(since start: ContinuousClock.Instant) -> String {
        milliseconds(ContinuousClock.now - start)
    }

    /// `duration` in milliseconds with two decimals (`0.73`), rounded. Plain integer arithmetic: `String(format:)`
    /// cost 1% of a native call's CPU (ADR 0012).
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let hundredths = seconds * 100_000 + (attoseconds + 5_000_000_000_000) / 10_000_000_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
