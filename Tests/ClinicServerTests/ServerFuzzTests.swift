import ClinicServerFuzzing
import Testing

/// The standing fuzzer of the network-facing readers, for a bounded number of cases of a fixed
/// seed on every `swift test` (longer runs: `clinic-server-fuzz`, see Fuzz/Server/main.swift).
@Suite struct ServerFuzzTests {
    @Test func readersKeepTheirPropertiesOnSeededMutants() {
        var fuzzer = ServerFuzzer(seed: 2026)
        let report = fuzzer.run(iterations: 4_000)
        #expect(report.failures.isEmpty, "\(report.failures.prefix(5))")
        // The cases reach both sides of each reader's boundary.
        #expect(report.bodiesRead > 50 && report.bodiesRefused > 500, "read \(report.bodiesRead), refused \(report.bodiesRefused)")
        #expect(report.rangesSatisfied > 50 && report.integersAccepted > 50, "ranges \(report.rangesSatisfied), integers \(report.integersAccepted)")
    }
}
