import ForemanDomain
import Testing

/// Which box a model-management call goes to (ADR 0023).
@Suite("Model management: which box")
struct ManagementRouteTests {
    typealias Candidate = ModelRoute.ManagingCandidate

    private func name(_ provider: String?, _ model: String = "m") -> ModelRoute.Name { ModelRoute.Name(provider: provider, model: model) }

    @Test("a provider named takes the call, has it the model or not; an engine answers that it cannot; an unknown one is not found")
    func named() {
        let fleet = [Candidate(provider: "a", manages: true, hasModel: false), Candidate(provider: "e", manages: false, hasModel: true)]
        for existing in [true, false] {
            #expect(ModelRoute.manage(name("a"), existing: existing, among: fleet) == .provider("a"))
            #expect(ModelRoute.manage(name("e"), existing: existing, among: fleet) == .cannotManage("e"))
            #expect(ModelRoute.manage(name("z"), existing: existing, among: fleet) == .notFound)
        }
    }

    @Test("one provider: every bare name goes to it, or it says it cannot")
    func single() {
        for existing in [true, false] {
            for hasModel in [true, false] {
                #expect(ModelRoute.manage(name(nil), existing: existing, among: [Candidate(provider: "d", manages: true, hasModel: hasModel)]) == .provider("d"))
                #expect(ModelRoute.manage(name(nil), existing: existing, among: [Candidate(provider: "d", manages: false, hasModel: hasModel)]) == .cannotManage("d"))
            }
        }
    }

    @Test("a fleet: a bare name about an existing model goes to the one box that lists it; none is not found; several must be chosen")
    func fleetExisting() {
        let one = [Candidate(provider: "a", manages: true, hasModel: false), Candidate(provider: "b", manages: true, hasModel: true)]
        #expect(ModelRoute.manage(name(nil), existing: true, among: one) == .provider("b"))
        let none = [Candidate(provider: "a", manages: true, hasModel: false), Candidate(provider: "b", manages: true, hasModel: false)]
        #expect(ModelRoute.manage(name(nil), existing: true, among: none) == .notFound)
        let both = [Candidate(provider: "a", manages: true, hasModel: true), Candidate(provider: "b", manages: true, hasModel: true)]
        #expect(ModelRoute.manage(name(nil), existing: true, among: both) == .chooseAmong(["a", "b"]))
        // An engine that lists the model cannot manage it: it is no choice.
        let engine = [Candidate(provider: "a", manages: true, hasModel: true), Candidate(provider: "e", manages: false, hasModel: true)]
        #expect(ModelRoute.manage(name(nil), existing: true, among: engine) == .provider("a"))
    }

    @Test("a fleet: a bare name that makes a model goes to the only box that manages models, else must be chosen")
    func fleetMaking() {
        let withEngine = [Candidate(provider: "a", manages: true, hasModel: false), Candidate(provider: "e", manages: false, hasModel: false)]
        #expect(ModelRoute.manage(name(nil), existing: false, among: withEngine) == .provider("a"))
        let two = [Candidate(provider: "a", manages: true, hasModel: true), Candidate(provider: "b", manages: true, hasModel: false)]
        #expect(ModelRoute.manage(name(nil), existing: false, among: two) == .chooseAmong(["a", "b"]))
        let engines = [Candidate(provider: "e", manages: false, hasModel: false), Candidate(provider: "f", manages: false, hasModel: false)]
        #expect(ModelRoute.manage(name(nil), existing: false, among: engines) == .chooseAmong([]))
    }
}
