import ForemanApp
import Testing

/// `FOREMAN_HOST`, read as Ollama reads `OLLAMA_HOST` (issue #18).
@Suite("FOREMAN_HOST")
struct ForemanHostTests {
    @Test(
        "host:port, a bare host, :port, URLs with and without a port, bind addresses and IPv6",
        arguments: [
            ("", "http://127.0.0.1:8080"),
            ("gpu.lan:9000", "http://gpu.lan:9000"),
            ("gpu.lan", "http://gpu.lan:8080"),
            (":9000", "http://127.0.0.1:9000"),
            ("  10.0.0.5:8080 ", "http://10.0.0.5:8080"),
            ("http://gpu.lan", "http://gpu.lan:80"),
            ("https://gpu.lan", "https://gpu.lan:443"),
            ("https://gpu.lan:8443/foreman/", "https://gpu.lan:8443/foreman"),
            ("0.0.0.0:8080", "http://127.0.0.1:8080"),
            ("0.0.0.0", "http://127.0.0.1:8080"),
            ("[::1]:9000", "http://[::1]:9000"),
            ("::", "http://[::1]:8080"),
            ("gpu.lan:notaport", "http://gpu.lan:8080"),
        ]
    )
    func parse(text: String, url: String) {
        #expect(ForemanHost.url(text) == url)
    }
}
