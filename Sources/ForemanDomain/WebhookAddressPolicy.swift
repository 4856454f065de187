import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which hosts a webhook may be sent to: never a link-local or cloud-metadata address unless the operator allows it.
///
/// A webhook is a request foreman makes on a caller's behalf, from inside the network foreman runs in. Pointed at
/// `169.254.169.254`, it would hand the caller whatever the cloud's metadata service tells the machine (credentials
/// included): the classic server-side request forgery. Loopback and private ranges stay allowed: a receiver on the
/// same box or LAN is the common case for a private GPU box.
public struct WebhookAddressPolicy: Sendable, Equatable {
    /// `FOREMAN_WEBHOOK_ALLOW_LINK_LOCAL=1`: link-local and metadata addresses are allowed too.
    public var allowLinkLocal: Bool

    public init(allowLinkLocal: Bool = false) {
        self.allowLinkLocal = allowLinkLocal
    }

    /// What is wrong with a webhook URL a caller gave.
    public enum URLProblem: Sendable, Equatable {
        /// Not an `http://` or `https://` URL with a host.
        case notHTTP
        /// Its host is one this policy refuses, and why.
        case refused(String)
    }

    /// What is wrong with `text` as a webhook URL (a job's `state_webhook_url`, a batch's `webhook_url`), or `nil`
    /// when webhooks may go there.
    public func problem(url text: String) -> URLProblem? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return .notHTTP }
        return refusal(host: host).map(URLProblem.refused)
    }

    /// Why a webhook to `host` is refused, or `nil` when it is allowed. `host` is a URL's host: a name, an IPv4
    /// address in any form `inet_aton` reads (`2852039166` is `169.254.169.254`), or an IPv6 address, bracketed or not.
    public func refusal(host: String) -> String? {
        guard !allowLinkLocal else { return nil }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let name = bare.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        if Self.metadataNames.contains(name) { return "\(host) is a cloud metadata service" }
        if let address = Self.ipv4(bare), Self.isBlocked(ipv4: address) {
            return "\(host) is a link-local or cloud metadata address"
        }
        if let bytes = Self.ipv6(bare), Self.isBlocked(ipv6: bytes) {
            return "\(host) is a link-local or cloud metadata address"
        }
        return nil
    }

    /// Host names that resolve to a metadata service inside the clouds that define them.
    static let metadataNames: Set<String> = ["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"]

    /// The address as a host-order integer, in any form the C resolver accepts.
    static func ipv4(_ text: String) -> UInt32? {
        var address = in_addr()
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == "x" || $0 == "X" }),
            inet_aton(text, &address) != 0
        else { return nil }
        return UInt32(bigEndian: address.s_addr)
    }

    static func ipv6(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        // A zone (`fe80::1%eth0`) is not part of the address.
        let withoutZone = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        guard withoutZone.contains(":"), inet_pton(AF_INET6, withoutZone, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// 169.254.0.0/16 (link-local, where AWS, GCP and Azure serve metadata) and 100.100.100.200 (Alibaba Cloud).
    static func isBlocked(ipv4 address: UInt32) -> Bool {
        address & 0xFFFF_0000 == 0xA9FE_0000 || address == 0x6464_64C8
    }

    /// fe80::/10 (link-local), fd00:ec2::254 (AWS's IPv6 metadata), and IPv4-mapped or -compatible forms of the
    /// blocked IPv4 addresses.
    static func isBlocked(ipv6 bytes: [UInt8]) -> Bool {
        if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0x80 { return true }
        if bytes == [0xFD, 0x00, 0x0E, 0xC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54] { return true }
        let prefix = bytes[0..<10].allSatisfy { $0 == 0 }
        if prefix, (bytes[10] == 0xFF && bytes[11] == 0xFF) || (bytes[10] == 0 && bytes[11] == 0) {
            let embedded = bytes[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return isBlocked(ipv4: embedded)
        }
        return false
    }
}
