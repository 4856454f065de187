import Foundation
import Hummingbird
import Logging
import NIOCore

/// A webhook endpoint for tests: records every delivery and can be told to fail the first few.
package actor WebhookReceiver {
    package struct Delivery: Sendable {
        package var id: String
        package var timestamp: String
        package var signature: String?
        package var body: String

        package var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        package var state: String? { (json["data"] as? [String: Any])?["state"] as? String }
        package var jobID: String? { (json["data"] as? [String: Any])?["id"] as? String }
    }

    package init() {}

    /// Deliveries answered 2xx, in arrival order.
    package private(set) var accepted: [Delivery] = []
    /// Every attempt, including refused ones.
    package private(set) var attempts: [Delivery] = []
    private var failuresLeft = 0
    private var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    /// Answers 503 to the next `count` attempts.
    package func failNext(_ count: Int) { failuresLeft = count }

    private var holding = false
    private var held: [CheckedContinuation<Void, Never>] = []
    private var attemptWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    /// Keeps every answer back until ``release()``.
    package func hold() { holding = true }

    package func release() {
        holding = false
        for continuation in held { continuation.resume() }
        held.removeAll()
    }

    /// Returns once `count` attempts have arrived (answered or not).
    package func waitForAttempts(_ count: Int) async {
        if attempts.count >= count { return }
        await withCheckedContinuation { attemptWaiters.append((count, $0)) }
    }

    fileprivate func arrived(_ delivery: Delivery) async {
        attempts.append(delivery)
        let ready = attemptWaiters.filter { $0.count <= attempts.count }
        attemptWaiters.removeAll { $0.count <= attempts.count }
        for waiter in ready { waiter.continuation.resume() }
        if holding { await withCheckedContinuation { held.append($0) } }
    }

    /// Returns once `count` deliveries have been accepted.
    package func waitForAccepted(_ count: Int) async {
        if accepted.count >= count { return }
        await withCheckedContinuation { waiters.append((count, $0)) }
    }

    fileprivate func receive(_ delivery: Delivery) async -> Bool {
        await arrived(delivery)
        if failuresLeft > 0 {
            failuresLeft -= 1
            return false
        }
        accepted.append(delivery)
        let ready = waiters.filter { $0.count <= accepted.count }
        waiters.removeAll { $0.count <= accepted.count }
        for waiter in ready { waiter.continuation.resume() }
        return true
    }

    package func app(onServerRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            let delivery = Delivery(
                id: request.headers[.init("webhook-id")!] ?? "",
                timestamp: request.headers[.init("webhook-timestamp")!] ?? "",
                signature: request.headers[.init("webhook-signature")!],
                body: String(buffer: body)
            )
            return Response(status: await self.receive(delivery) ? .noContent : .serviceUnavailable)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: quietLogger("receiver")
        )
    }
}
