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
        // Either end alone, and the Unicode spaces `.whitespaces` holds beyond ASCII.
        #expect(ModelName.trimmed("m ") == "m")
        #expect(ModelName.trimmed("\tm") == "m")
        #expect(ModelName.trimmed("\u{3000}m\u{00A0}") == "m")
        #expect(ModelName.trimmed("modèle:é") == "modèle:é")
        #expect(ModelName.trimmed("m\n") == "m\n")
    }

    @Test("job ids are 30 characters and sort by creation time")
    func jobIDs() {
        let early = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let late = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(early.count == 30)
        #expect(early.hasPrefix("job_"))
        #expect(early.dropFirst(4).allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains($0) })
        // 1,700,000,000,000 ms in 48 bits, then the random bits: the first ten characters are the time's.
        #expect(early.prefix(14) == "job_01HF7YAT00")
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
        #expect(verifier.verify(authorization: "BEARER s3cret"))
        #expect(!verifier.verify(authorization: "Bearer\u{0}s3cret"))
        #expect(!verifier.verify(authorization: "Bearer\ts3cret"))
        #expect(!verifier.verify(authorization: "Bearer  s3cret"))
        #expect(!verifier.verify(authorization: "Bearers3cret"))
        #expect(!verifier.verify(authorization: "Bëarer s3cret"))
        // A secret hashes as its UTF-8 bytes, from a string or a slice of one.
        let secret = "tökén-42"
        #expect(KeyRing.hash(secret).bytes.map { String(format: "%02x", $0) }.joined() == "5ec292ccc476e2a6a04bbce9d422517ff5f46f26f304fd932d998c12d957d7c4")
        #expect(KeyRing.hash("Bearer tökén-42".dropFirst(7)) == KeyRing.hash(secret))
        #expect(BearerTokenVerifier(token: secret).verify(authorization: "bearer tökén-42"))
        // The store keeps the 32 bytes; they load back as the same hash, and nothing else loads.
        #expect(SecretHash(bytes: KeyRing.hash(secret).bytes) == KeyRing.hash(secret))
        #expect(SecretHash(bytes: KeyRing.hash(secret).bytes.dropLast() + [0]) != KeyRing.hash(secret))
        #expect(SecretHash(bytes: Array(KeyRing.hash(secret).bytes.dropLast())) == nil)
        #expect(Set([KeyRing.hash(secret), KeyRing.hash("tökén-43"), KeyRing.hash(secret)]).count == 2)
    }
}
