import ForemanApp
import Testing

/// When freed heap is handed back (ADR 0024).
@Suite("Heap trim policy")
struct TrimPolicyTests {
    private static let mebibyte = 1 << 20

    /// Idle and resident sizes in MiB, and whether a trim is due.
    static let cases: [(idle: Int, resident: Int, trims: Bool)] = [
        (40, 40, false), (40, 41, false), (40, 42, true), (40, 88, true), (60, 62, false), (60, 63, true), (200, 209, false), (200, 210, true),
        (40, 30, false),
    ]

    @Test("a trim only when the resident size stands a margin above idle: 2 MiB, or 5% of idle when larger")
    func margin() {
        for (idle, resident, trims) in Self.cases {
            #expect(TrimPolicy().shouldTrim(resident: resident * Self.mebibyte, idle: idle * Self.mebibyte) == trims, "idle \(idle), resident \(resident)")
        }
        // One byte short of the margin is no trim.
        #expect(!TrimPolicy().shouldTrim(resident: 42 * Self.mebibyte - 1, idle: 40 * Self.mebibyte))
    }

    @Test("glibc's malloc_trim is found where there is one, and the resident size is read")
    func lookups() {
        #if os(Linux)
        #expect(HeapTrimmer.mallocTrim != nil)
        #expect((HeapTrimmer.residentBytes() ?? 0) > 1 << 20)
        #endif
    }
}
