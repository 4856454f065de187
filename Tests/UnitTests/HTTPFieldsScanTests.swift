import HTTPTypes
import Testing

@testable import ForemanHTTP

/// The scan that finds a request's fields on its way to the box must find what `HTTPFields`' own subscript finds.
@Suite("HTTP fields found by a scan")
struct HTTPFieldsScanTests {
    @Test("a field absent, once, repeated, mixed in with others, and a cookie: the same value as the subscript's")
    func sameAsSubscript() {
        let cases: [HTTPFields] = [
            [:],
            [.authorization: "Bearer a"],
            [.userAgent: "u", .authorization: "Bearer a", .contentType: "application/json"],
            [.authorization: "Bearer a", .accept: "*/*", .authorization: "Bearer b"],
            [.cookie: "a=1", .connection: "close", .cookie: "b=2"],
            [HTTPField.Name("X-Api-Key")!: "k", .connection: "keep-alive, Upgrade"],
        ]
        let names: [HTTPField.Name] = [.authorization, .cookie, .connection, .contentType, HTTPField.Name("x-api-key")!, .te]
        for fields in cases {
            for name in names {
                #expect(fields.value(of: name) == fields[name], "\(name) in \(fields)")
            }
        }
    }
}
