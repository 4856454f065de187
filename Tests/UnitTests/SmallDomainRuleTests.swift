import ForemanEngine
import ForemanDomain
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Small domain rules")
struct SmallDomainRuleTests {
    @Test func modelNames() {
        #expect(ModelName.normalized("llama3.2") == "llama3.2:latest")
        #expect(ModelName.normalized("llama3.2:latest") == "llama3.2:latest")
        #expect(ModelName.normalized("qwen2.5:7b") == "qwen2.5:7b")
        #expect(ModelName.normalized("registry:5000/ns/model") == "registry:5000/ns/model:latest")
        #expect(ModelName.normalized("registry/ns/model:q4") == "registry/ns/model:q4")
        #expect(ModelName.normalized(" m\t") == "m:latest")
        #expect(ModelName.normalized("ns/") == "ns/:latest")
    }

    @Test("job ids are 30 characters and sort by creation time")
    func jobIDs() {
        let early = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let late = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(early.count == 30)
        #expect(early.hasPrefix("job_"))
        #expect(early < late)
        #expect(JobID.make() != JobID.make())
    }

    @Test func bearerToken() {
        let verifier = BearerTokenVerifier(token: "s3cret")
        #expect(verifier.verify(authorization: "Bearer s3cret"))
        #expect(verifier.verify(authorization: "bearer s3cret"))
        #expect(!verifier.verify(authorization: "Bearer s3cre"))
        #expect(!verifier.verify(authorization: "Basic s3cret"))
        #expect(!verifier.verify(authorization: "Bearer "))
        #expect(!verifier.verify(authorization: nil))
    }
}
