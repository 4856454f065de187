import ForemanDomain
import Testing

@Suite("Webhook endpoints")
struct WebhookEndpointTests {
    @Test("scheme, host and port, lowercased; userinfo, path, query and fragment dropped", arguments: [
        ("http://127.0.0.1:9/hook", "http://127.0.0.1:9"),
        ("HTTPS://Hooks.Example.COM/a/b?c=d#e", "https://hooks.example.com:"),
        ("https://user:p%40ss@example.com:8443/x", "https://example.com:8443"),
        ("http://[::1]:8080/hook", "http://[::1]:8080"),
        ("http://[fe80::1]/hook", "http://[fe80::1]:"),
        ("http://example.com?x=1", "http://example.com:"),
        ("http://example.com#frag", "http://example.com:"),
        ("not a url", "not a url"),
    ])
    func endpoint(url: String, expected: String) {
        #expect(WebhookEndpoint.of(url) == expected)
    }
}
