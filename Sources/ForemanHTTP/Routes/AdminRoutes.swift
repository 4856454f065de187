import ForemanDomain
import ForemanEngine
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The keys API (ADR 0022), for keys with the `admin` scope: create a key (its secret answered once), list, read,
/// change and revoke keys. Revoking a key cancels its queued jobs and its batches.
struct AdminRoutes: Sendable {
    typealias Context = ConnectionContext

    let keys: KeyRing
    let limiter: RequestLimiter
    let service: JobService
    let batches: BatchService
    let maxBodyBytes: Int

    func register(on router: Router<Context>) {
        router.post("/admin/keys") { request, _ in try await self.create(request) }
        router.get("/admin/keys") { _, _ in try await self.list() }
        router.get("/admin/keys/:id") { _, context in try await self.show(context.parameters.require("id")) }
        router.patch("/admin/keys/:id") { request, context in try await self.update(request, context.parameters.require("id")) }
        router.delete("/admin/keys/:id") { _, context in try await self.revoke(context.parameters.require("id")) }
        router.get("/admin/usage") { request, _ in try await self.usage(request) }
    }

    static var routes: [String: [HTTPRequest.Method]] {
        ["/admin/keys": [.get, .post], "/admin/keys/:id": [.get, .patch, .delete], "/admin/usage": [.get]]
    }

    private func create(_ request: Request) async throws -> Response {
        let fields = try await Self.object(request, maxBodyBytes)
        guard fields["name"] != nil else { throw APIError(.badRequest, "invalid request body: field 'name' is required") }
        guard fields["scopes"] != nil else { throw APIError(.badRequest, "invalid request body: field 'scopes' is required") }
        var key = APIKey(name: "", scopes: [])
        try Self.apply(fields, to: &key)
        let secret = try await keys.create(key)
        return JSONLine.response(KeyDocument.render(key, secret: secret), status: .created)
    }

    private func list() async throws -> Response {
        let rendered = await keys.keys().map { KeyDocument.render($0, account: account(of: $0)) }
        return JSONLine.response(#"{"keys":"# + JSONObjectWriter.array(rendered) + "}", status: .ok)
    }

    private func show(_ id: String) async throws -> Response {
        guard let key = await keys.key(id: id) else { throw Self.notFound(id) }
        return JSONLine.response(KeyDocument.render(key, account: account(of: key)), status: .ok)
    }

    private func account(of key: APIKey) -> (active: Int, tokensToday: Int) {
        (service.ledger.active(owner: key.id), service.ledger.tokens(owner: key.id, on: UTCDay(Date())))
    }

    private func update(_ request: Request, _ id: String) async throws -> Response {
        let fields = try await Self.object(request, maxBodyBytes)
        guard var key = await keys.key(id: id) else { throw Self.notFound(id) }
        try Self.apply(fields, to: &key)
        guard let updated = try await keys.update(key) else { throw Self.notFound(id) }
        await limiter.forget(id)  // a new limit starts with a full minute
        return JSONLine.response(KeyDocument.render(updated), status: .ok)
    }

    private func revoke(_ id: String) async throws -> Response {
        guard let revoked = try await keys.revoke(id: id) else { throw Self.notFound(id) }
        await limiter.forget(id)
        // Its queued work goes with it; what runs finishes, and admins can still read all of it.
        _ = try await batches.cancelBatches(of: id)
        _ = try await service.cancelQueuedWork(of: id)
        return JSONLine.response(KeyDocument.render(revoked), status: .ok)
    }

    /// `GET /admin/usage?from=&to=&key=`: usage by key, model and UTC day, from day `from` to day `to` (both
    /// `yyyy-MM-dd`, both included, either left open), of the key named (or with the id) `key`, or of all.
    private func usage(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        func day(_ name: String) throws -> UTCDay? {
            guard let text = query[name[...]] else { return nil }
            guard let day = UTCDay(text: text) else { throw APIError(.badRequest, "invalid '\(name)': expected a day as yyyy-MM-dd") }
            return day
        }
        let from = try day("from"), to = try day("to")
        let all = await keys.keys()
        var keyID: String?
        if let wanted = query["key"] {
            guard let key = all.first(where: { $0.name == wanted || $0.id == wanted }) ?? (wanted == APIKey.bootstrap.name ? .bootstrap : nil) else {
                throw Self.notFound(String(wanted))
            }
            keyID = key.id
        }
        let rows = try await service.usage(from: from, to: to, keyID: keyID)
        var names = Dictionary(all.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        names[APIKey.bootstrap.id] = APIKey.bootstrap.name
        return JSONLine.response(UsageDocument.render(rows, names: names), status: .ok)
    }

    /// Sets the fields present in `fields` on `key`; a limit set to `null` is lifted.
    static func apply(_ fields: [String: Any], to key: inout APIKey) throws {
        let known: Set<String> = ["name", "scopes", "priority_ceiling", "max_concurrent", "requests_per_minute", "tokens_per_day"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError(.badRequest, "invalid request body: unknown field '\(unknown)'")
        }
        if let value = fields["name"] {
            guard let name = value as? String, APIKey.isValidName(name) else {
                throw APIError(.badRequest, "invalid request body: field 'name' must be 1 to 64 of a-z, 0-9, '_' and '-'")
            }
            key.name = name
        }
        if let value = fields["scopes"] {
            let names = (value as? [Any])?.compactMap { $0 as? String } ?? []
            let scopes = names.compactMap(APIKey.Scope.init(rawValue:))
            guard let list = value as? [Any], !list.isEmpty, scopes.count == list.count else {
                throw APIError(.badRequest, "invalid request body: field 'scopes' must be a non-empty list of inference, jobs, models, admin")
            }
            key.scopes = Set(scopes)
        }
        key.priorityCeiling = try limit(fields, "priority_ceiling", current: key.priorityCeiling, range: -1_000_000...1_000_000)
        key.maxConcurrent = try limit(fields, "max_concurrent", current: key.maxConcurrent, range: 1...1_000_000)
        key.requestsPerMinute = try limit(fields, "requests_per_minute", current: key.requestsPerMinute, range: 1...1_000_000)
        key.tokensPerDay = try limit(fields, "tokens_per_day", current: key.tokensPerDay, range: 1...1_000_000_000_000)
    }

    /// A whole-number field within `range`, `null` for none, or left as it is when absent.
    private static func limit(_ fields: [String: Any], _ name: String, current: Int?, range: ClosedRange<Int>) throws -> Int? {
        guard let value = fields[name] else { return current }
        if value is NSNull { return nil }
        guard JSONValue.isNumber(value), let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
            let whole = Int(exactly: number.doubleValue), range.contains(whole)
        else {
            throw APIError(.badRequest, "invalid request body: field '\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound), or null")
        }
        return whole
    }

    private static func object(_ request: Request, _ limit: Int) async throws -> [String: Any] {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] else {
            throw APIError(.badRequest, "invalid request body: expected a JSON object")
        }
        return object
    }

    private static func notFound(_ id: String) -> APIError {
        APIError(.notFound, "key '\(id)' not found")
    }
}
