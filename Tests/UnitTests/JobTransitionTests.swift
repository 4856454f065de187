import ForemanDomain
import Testing

/// The job state machine (``JobTransition``): which changes exist, and that every life ends once.
@Suite("Job state machine")
struct JobTransitionTests {
    @Test("exactly the listed changes exist; none leaves a terminal state or enters a new job anywhere but the queue")
    func table() {
        let states: [JobState?] = [nil] + JobState.allCases.map(Optional.some)
        var legal: Set<JobTransition> = []
        for from in states {
            for to in JobState.allCases {
                guard let transition = JobTransition(from: from, to: to) else { continue }
                #expect(transition.from == from && transition.to == to)
                #expect(from?.isTerminal != true, "\(transition) leaves a terminal state")
                legal.insert(transition)
            }
        }
        #expect(legal == Set(JobTransition.allCases))
        #expect(JobTransition(from: nil, to: .running) == nil)
        #expect(JobTransition(from: .succeeded, to: .queued) == nil)
        #expect(JobTransition(from: .queued, to: .succeeded) == nil)
    }

    @Test("from every state a job can still be in, some path reaches a terminal state; a terminal state has no way out")
    func everyLifeCanEnd() {
        for state in JobState.allCases {
            let next = JobTransition.allCases.filter { $0.from == state }.map(\.to)
            if state.isTerminal {
                #expect(next.isEmpty, "\(state) has a way out")
                continue
            }
            var reached: Set<JobState> = [state]
            var frontier = [state]
            while let current = frontier.popLast() {
                for step in JobTransition.allCases where step.from == current && reached.insert(step.to).inserted {
                    frontier.append(step.to)
                }
            }
            let canEnd = reached.contains { $0.isTerminal }
            #expect(canEnd, "\(state) can never end")
        }
    }
}
