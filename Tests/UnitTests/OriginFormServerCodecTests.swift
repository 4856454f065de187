@testable import ForemanHTTP
import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing

@Suite("Request targets")
struct OriginFormServerCodecTests {
    @Test("every request target becomes the request swift-nio-extras' own conversion makes of it")
    func sameAsTheLibrary() throws {
        let targets = [
            "/api/chat", "/api/tags?verbose=1&x=%20y", "//api/tags", "/", "/a%2Fb;c?d#e",
            "http://foreman/api/tags", "http://127.0.0.1:8080/api/tags?verbose=1", "HTTP://Foreman", "*", "api/tags",
        ]
        for target in targets {
            var headers = HTTPHeaders([("Host", "foreman"), ("Authorization", "Bearer secret"), ("Cookie", "a=1; b=2")])
            headers.add(name: "X-Twice", value: "1")
            headers.add(name: "X-Twice", value: "2")
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target, headers: headers)
            let request = try OriginFormServerCodec.request(head)
            #expect(request == (try HTTPRequest(head, secure: false, splitCookie: false)), "\(target)")
        }
        #expect(try OriginFormServerCodec.request(HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://foreman/api/tags")).path == "/api/tags")
    }
}
