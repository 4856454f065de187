import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Webhooks and job objects")
struct WebhookUnitTests {
    @Test("Standard Webhooks known-answer vector")
    func knownAnswer() throws {
        let signer = try WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func badSecretIsRejected() {
        #expect(throws: WebhookSecretError.self) { try WebhookSigner(secret: "whsec_!!!") }
        #expect(throws: ConfigError.self) { try ForemanConfig.resolve(environment: ["FOREMAN_WEBHOOK_SECRET": "nope!"]) }
    }

    @Test("raw fields come out byte for byte, nested strings and brackets included")
    func rawFields() {
        let json = #"{ "kind" : "chat", "request" : {"model":"m","messages":[{"content":"a } ] \" b"}]}, "metadata":{"n":1.50} }"#
        let bytes = Array(json.utf8)
        let fields = RawJSONFields.ranges(["request", "metadata"], in: bytes).mapValues { String(decoding: bytes[$0], as: UTF8.self) }
        #expect(fields["request"] == #"{"model":"m","messages":[{"content":"a } ] \" b"}]}"#)
        #expect(fields["metadata"] == #"{"n":1.50}"#)
    }
}
