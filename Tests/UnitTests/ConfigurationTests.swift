import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTarget
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test func defaults() throws {
        let config = try ForemanConfig.resolve(environment: ["HOME": "/home/u"])
        #expect(config.address == HostPort(host: "127.0.0.1", port: 8080))
        #expect(config.ollamaURL == "http://127.0.0.1:11434")
        #expect(config.databasePath == "/home/u/.local/state/foreman/foreman.db")
        #expect(config.pollInterval == .seconds(30))
        #expect(config.maxQueue == 512)
        #expect(config.token == nil)
    }

    @Test func environmentAndOverrides() throws {
        let config = try ForemanConfig.resolve(
            environment: [
                "XDG_STATE_HOME": "/state", "FOREMAN_ADDR": "0.0.0.0:9000", "FOREMAN_TOKEN": "t",
                "FOREMAN_POLL_INTERVAL": "500ms", "FOREMAN_MAX_QUEUE": "7", "FOREMAN_OLLAMA_URL": "http://gpu:11434/",
            ],
            overrides: [.maxQueue: "9"]
        )
        #expect(config.databasePath == "/state/foreman/foreman.db")
        #expect(config.address == HostPort(host: "0.0.0.0", port: 9000))
        #expect(config.pollInterval == .milliseconds(500))
        #expect(config.maxQueue == 9)
        #expect(config.ollamaURL == "http://gpu:11434")
        try config.validate()
    }

    @Test(arguments: [("500ms", 0.5), ("1s", 1), ("2m", 120), ("1h", 3600), ("7d", 604_800), ("30", 30), ("1.5s", 1.5)])
    func durations(text: String, seconds: Double) throws {
        #expect(try DurationParser.parse(text, variable: "X").seconds == seconds)
    }

    @Test(arguments: [
        ("FOREMAN_POLL_INTERVAL", "soon"), ("FOREMAN_MAX_QUEUE", "-1"), ("FOREMAN_MAX_QUEUE", "lots"),
        ("FOREMAN_ADDR", "8080"), ("FOREMAN_ADDR", "host:99999"), ("FOREMAN_OLLAMA_URL", "ftp://x"), ("FOREMAN_MAX_BODY", "big"),
        ("FOREMAN_MAX_SKIP", "-1"), ("FOREMAN_MAX_AFFINITY_WAIT", "soon"), ("FOREMAN_RETENTION", "forever"),
    ])
    func badValuesNameTheirVariable(variable: String, value: String) {
        #expect {
            try ForemanConfig.resolve(environment: [variable: value])
        } throws: { error in
            (error as? ConfigError)?.variable == variable && (error as? ConfigError)?.description.contains(value) == true
        }
    }

    @Test("a target token that cannot be a header value is refused, without echoing it")
    func targetTokenMustBeAFieldValue() throws {
        for bad in ["s3cret\r\nX-Injected: 1", "s3cret\n", "nul\u{0}"] {
            #expect {
                try ForemanConfig.resolve(environment: ["FOREMAN_OLLAMA_TOKEN": bad])
            } throws: { error in
                (error as? ConfigError)?.variable == "FOREMAN_OLLAMA_TOKEN" && (error as? ConfigError)?.description.contains("s3cret") == false
            }
            #expect(throws: TargetError.self) {
                try HTTP1Target(url: URL(string: "http://127.0.0.1:1")!, token: bad, connectTimeout: .seconds(1), headTimeout: .seconds(1), readTimeout: .seconds(1))
            }
        }
        #expect(try ForemanConfig.resolve(environment: ["FOREMAN_OLLAMA_TOKEN": "tok en\twith é"]).ollamaToken == "tok en\twith é")
    }

    @Test func refusesNonLoopbackWithoutToken() throws {
        let open = try ForemanConfig.resolve(environment: ["FOREMAN_ADDR": "0.0.0.0:8080"])
        #expect(throws: ConfigError.self) { try open.validate() }
        for loopback in ["127.0.0.1:8080", "localhost:1", "[::1]:8080"] {
            try ForemanConfig.resolve(environment: ["FOREMAN_ADDR": loopback]).validate()
        }
    }

    @Test func byteSizes() throws {
        #expect(try ByteSizeParser.parse("32MB", variable: "X") == 32 << 20)
        #expect(try ByteSizeParser.parse("512KiB", variable: "X") == 512 << 10)
        #expect(try ByteSizeParser.parse("1000", variable: "X") == 1000)
    }
}
