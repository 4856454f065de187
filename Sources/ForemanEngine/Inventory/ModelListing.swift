import ForemanDomain
import Foundation
import NIOCore

/// Several providers' model lists (`/api/tags`, `/api/ps`) as one list in the fleet's naming (ADR 0017): every model
/// as `provider/model`, and under its bare name too when exactly one of the lists has it.
public enum ModelListing {
    /// `lists` holds each provider's name and its answer's body, in the fleet's order. A body that is not a model list
    /// is left out. Every other field of each entry is kept as the provider sent it.
    public static func merge(_ lists: [(provider: String, body: ByteBuffer)]) -> ByteBuffer {
        var parsed: [(provider: String, models: [[String: Any]])] = []
        var holders: [String: Int] = [:]
        for list in lists {
            let object = (try? JSONSerialization.jsonObject(with: Data(list.body.readableBytesView))) as? [String: Any]
            guard let models = object?["models"] as? [[String: Any]] else { continue }
            parsed.append((list.provider, models))
            for name in Set(models.compactMap(Self.name(of:)).map(ModelName.normalized)) { holders[name, default: 0] += 1 }
        }
        var merged: [[String: Any]] = []
        for (provider, models) in parsed {
            for model in models {
                guard let name = Self.name(of: model) else { continue }
                var qualified = model
                qualified["name"] = provider + "/" + name
                qualified["model"] = provider + "/" + ((model["model"] as? String) ?? name)
                merged.append(qualified)
                if holders[ModelName.normalized(name)] == 1 { merged.append(model) }
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["models": merged], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(#"{"models":[]}"#.utf8)
        return ByteBuffer(bytes: data)
    }

    private static func name(of model: [String: Any]) -> String? {
        (model["name"] as? String) ?? (model["model"] as? String)
    }
}
