import ArgumentParser
import AsyncHTTPClient
import ForemanTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// nginx as a bare streaming hop in front of the fake: the yardstick for what relaying a stream should cost.
///
/// One process (`master_process off`), no buffering of the answer, HTTP/1.1 kept alive to the fake: what a
/// reverse proxy in front of Ollama is set up to do, and nothing else.
final class NginxHop {
    let port: Int
    private let process = Process()
    private let folder: URL

    init(binary: String, upstreamPort: Int) throws {
        port = try closedPort()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-bench-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let configuration = """
            daemon off;
            master_process off;
            worker_processes 1;
            error_log stderr error;
            pid \(folder.path)/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(folder.path)/body;
                proxy_temp_path \(folder.path)/proxy;
                fastcgi_temp_path \(folder.path)/fastcgi;
                uwsgi_temp_path \(folder.path)/uwsgi;
                scgi_temp_path \(folder.path)/scgi;
                upstream fake { server 127.0.0.1:\(upstreamPort); keepalive 8; }
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://fake;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                    }
                }
            }
            """
        let file = folder.appendingPathComponent("nginx.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-p", folder.path, "-c", file.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits until the hop answers (any status: the fake answers `GET /`).
    func waitUntilServing() async throws {
        try await eventually("nginx listening on \(port)", timeout: .seconds(10)) {
            (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(self.port)/"), timeout: .seconds(1))) != nil
        }
    }

    /// Kills it: a child started from a dispatch thread inherits that thread's blocked signals, SIGTERM among them,
    /// and nginx without its master process never unblocks them. It holds nothing worth a clean stop.
    func terminate() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }
}
