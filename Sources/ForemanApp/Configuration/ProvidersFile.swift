import ForemanDomain
import Foundation
internal import TOMLKit

/// One provider as the providers file declares it (ADR 0017).
public struct ProviderDeclaration: Sendable, Equatable {
    /// The table's name: `[a-z0-9-]+`, the first segment of `provider/model` ids.
    public var name: String
    public var kind: ProviderKind
    public var url: String
    /// The outbound bearer, if the box wants one.
    public var token: String?
    /// Generations at once at that box.
    public var concurrency: Int

    public init(name: String, kind: ProviderKind, url: String, token: String? = nil, concurrency: Int = 1) {
        self.name = name
        self.kind = kind
        self.url = url
        self.token = token
        self.concurrency = concurrency
    }
}

/// Reads the file `FOREMAN_PROVIDERS` names: one `[providers.NAME]` table per box. Anything it does not know stops
/// startup with the file, the provider and the key named, because a typo in a fleet's file would otherwise send
/// jobs to the wrong box or to none.
public enum ProvidersFile {
    static let variable = "FOREMAN_PROVIDERS"
    static let keys = ["kind", "url", "token", "concurrency"]
    static let maxConcurrency = 64
    /// Names Ollama uses as a namespace: a provider with one of them would take over its models' names.
    static let reservedNames: Set<String> = ["library"]

    /// The providers in the file at `path`, sorted by name.
    public static func read(path: String) throws(ConfigError) -> [ProviderDeclaration] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(variable: variable, message: "\(path): cannot be read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// The providers `text` declares, sorted by name; `file` names it in errors.
    static func parse(_ text: String, file: String) throws(ConfigError) -> [ProviderDeclaration] {
        func failure(_ message: String) -> ConfigError { ConfigError(variable: variable, message: "\(file): \(message)") }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw failure("line \(error.source.begin.line): \(error.description)")
        } catch {
            throw failure("\(error)")
        }
        for key in root.keys where key != "providers" {
            throw failure("table or key \"\(key)\" is not known (only [providers.NAME] tables)")
        }
        guard let providers = root["providers"]?.table, !providers.isEmpty else {
            throw failure("declares no provider (one [providers.NAME] table per box)")
        }
        var declarations: [ProviderDeclaration] = []
        for name in providers.keys.sorted() {
            func failure(_ message: String) -> ConfigError { ConfigError(variable: variable, message: "\(file): provider \"\(name)\": \(message)") }
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
                throw failure("the name must be lowercase letters, digits and dashes")
            }
            guard !reservedNames.contains(name) else { throw failure("the name is a namespace of Ollama's model names") }
            guard let table = providers[name]?.table else { throw failure("must be a table") }
            for key in table.keys where !keys.contains(key) {
                throw failure("key \"\(key)\" is not known (\(keys.joined(separator: ", ")))")
            }
            guard let kindText = table["kind"]?.string else { throw failure("key \"kind\" must be \"ollama\" or \"openai\"") }
            guard let kind = ProviderKind(rawValue: kindText) else { throw failure("key \"kind\" must be \"ollama\" or \"openai\", not \"\(kindText)\"") }
            guard let url = table["url"]?.string else { throw failure("key \"url\" must be a string (http://host:port)") }
            if let problem = urlProblem(url) { throw failure("key \"url\" \(problem)") }
            var token: String?
            if let value = table["token"] {
                guard let text = value.string, !text.isEmpty, text.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7e }) else {
                    throw failure("key \"token\" must be a non-empty string of visible ASCII characters")
                }
                token = text
            }
            var concurrency = 1
            if let value = table["concurrency"] {
                guard let number = value.int, (1...maxConcurrency).contains(number) else {
                    throw failure("key \"concurrency\" must be a whole number from 1 to \(maxConcurrency)")
                }
                concurrency = number
            }
            declarations.append(ProviderDeclaration(name: name, kind: kind, url: url, token: token, concurrency: concurrency))
        }
        return declarations
    }

    /// Why `text` is not a box's address, or `nil` when it is one.
    static func urlProblem(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            return "must be an http:// or https:// URL, not \"\(text)\""
        }
        guard let host = url.host, !host.isEmpty else { return "has no host: \"\(text)\"" }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil else {
            return "must be the box's address alone, without a path, query or fragment: \"\(text)\""
        }
        return nil
    }
}
