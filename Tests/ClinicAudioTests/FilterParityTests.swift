@testable import ClinicAudio
import Foundation
import Testing

/// Butterworth design, sosfilt/sosfiltfilt/filtfilt and spike removal against scipy
/// (fixtures in Tests/Fixtures/dsp, tolerances from index.json).
@Suite struct FilterParityTests {
    static let rates = ["1000", "2000", "4000", "8000", "44100"]

    func expectCoefficients(_ got: [[Double]], _ want: Any, _ label: String) {
        let rows = want as! [[Double]]
        var report = ParityReport()
        #expect(got.count == rows.count, "\(label): \(got.count) rows, want \(rows.count)")
        for (r, (g, w)) in zip(got, rows).enumerated() {
            for (c, (gv, wv)) in zip(g, w).enumerated() {
                report.check(gv, wv, DSPFixtures.tolerance("filter_coefficients"), at: "[\(r)][\(c)]")
            }
        }
        report.expectPass(label, DSPFixtures.tolerance("filter_coefficients"))
    }

    @Test(arguments: rates)
    func butterworthDesignMatchesScipy(_ rate: String) throws {
        let design = (DSPFixtures.filters["filter_design"] as! [String: Any])[rate] as! [String: Any]
        let fs = design["fs"] as! Double
        func spec(_ name: String) -> [String: Any] { design[name] as! [String: Any] }

        let bandpass = try Butterworth.sos(order: 4, .bandpass(25, 400), sampleRate: fs)
        expectCoefficients(bandpass.sections, spec("bandpass")["sos"]!, "butter bandpass sos @\(rate)")
        expectCoefficients(IIR.sosfiltZi(bandpass), spec("bandpass")["sosfilt_zi"]!, "sosfilt_zi bandpass @\(rate)")
        #expect(IIR.defaultPadLength(bandpass) == spec("bandpass")["sosfiltfilt_default_padlen"] as! Int)

        let highpass = try Butterworth.sos(order: 2, .highpass(25), sampleRate: fs)
        expectCoefficients(highpass.sections, spec("highpass")["sos"]!, "butter highpass sos @\(rate)")
        #expect(IIR.defaultPadLength(highpass) == spec("highpass")["sosfiltfilt_default_padlen"] as! Int)
        let lowpass = try Butterworth.sos(order: 2, .lowpass(400), sampleRate: fs)
        expectCoefficients(lowpass.sections, spec("lowpass")["sos"]!, "butter lowpass sos @\(rate)")

        for (name, order, band) in [("highpass", 2, FilterBand.highpass(25)), ("lowpass", 2, .lowpass(400)),
                                    ("homomorphic_lowpass", 1, .lowpass(8))] {
            let tf = try Butterworth.transferFunction(order: order, band, sampleRate: fs)
            expectCoefficients([tf.b, tf.a], [spec(name)["b"]!, spec(name)["a"]!], "butter \(name) b/a @\(rate)")
            expectCoefficients([IIR.lfilterZi(tf)], [spec(name)["lfilter_zi"]!], "lfilter_zi \(name) @\(rate)")
        }
        #expect(IIR.defaultPadLength(try Butterworth.transferFunction(order: 1, .lowpass(8), sampleRate: fs))
                == spec("homomorphic_lowpass")["filtfilt_default_padlen"] as! Int)
    }

    @Test func eighthOrderLowpassOfTheResampleCheckMatchesScipy() throws {
        for name in DSPFixtures.names {
            let params = try DSPFixture(name).dict("resample", "output_lowpassed", "params")
            let sos = try Butterworth.sos(order: 8, .lowpass(700), sampleRate: params["fs"] as! Double)
            expectCoefficients(sos.sections, params["sos"]!, "butter 8 lowpass 700 @\(params["fs"]!) (\(name))")
        }
    }

    @Test func designRejectsCutoffsOutsideTheBand() {
        #expect(throws: DSPError.self) { try Butterworth.sos(order: 4, .lowpass(1000), sampleRate: 2000) }
        #expect(throws: DSPError.self) { try Butterworth.sos(order: 4, .bandpass(400, 25), sampleRate: 2000) }
        #expect(throws: DSPError.self) { try Butterworth.sos(order: 0, .highpass(25), sampleRate: 2000) }
    }

    @Test(arguments: DSPFixtures.names)
    func zeroPhaseFilteringMatchesScipyEdgesIncluded(_ name: String) throws {
        let f = try DSPFixture(name)
        let tol = DSPFixtures.tolerance("sosfiltfilt_filtfilt_sosfilt")
        let bandpass = try Butterworth.sos(order: 4, .bandpass(25, 400), sampleRate: f.sampleRate)
        expectParity(try IIR.sosfiltfilt(bandpass, f.x), f.dict("filters", "bandpass_sosfiltfilt", "output"), tol,
                     "sosfiltfilt bandpass \(name)")
        let lowpass = try Butterworth.transferFunction(order: 2, .lowpass(400), sampleRate: f.sampleRate)
        expectParity(try IIR.filtfilt(lowpass, f.x), f.dict("filters", "lowpass_filtfilt", "output"), tol,
                     "filtfilt lowpass \(name)")
        if let causal = f.dict("filters")["bandpass_sosfilt_causal"] as? [String: Any] {
            expectParity(IIR.sosfilt(bandpass, f.x), causal["output"] as! [String: Any], tol, "sosfilt causal \(name)")
        }
        if let hp = f.dict("filters")["highpass_sosfiltfilt"] as? [String: Any] {
            let highpass = try Butterworth.sos(order: 2, .highpass(25), sampleRate: f.sampleRate)
            expectParity(try IIR.sosfiltfilt(highpass, f.x), hp["output"] as! [String: Any], tol, "sosfiltfilt highpass \(name)")
        }
    }

    @Test func zeroPhaseFilteringRefusesASignalNoLongerThanThePadding() throws {
        let sos = try Butterworth.sos(order: 4, .bandpass(25, 400), sampleRate: 2000)
        #expect(throws: DSPError.self) { try IIR.sosfiltfilt(sos, [Double](repeating: 0.1, count: 27)) }
        #expect(try IIR.sosfiltfilt(sos, [Double](repeating: 0.1, count: 28)).count == 28)
    }

    @Test(arguments: DSPFixtures.names)
    func spikeRemovalMatchesTheReference(_ name: String) throws {
        let f = try DSPFixture(name)
        let spikes = f.dict("spike_removal")
        let (y, removals) = SpikeRemoval.apply(f.x, sampleRate: f.sampleRate)
        let want = (spikes["removals"] as! [[String: Int]]).map {
            SpikeRemoval.Removal(window: $0["window"]!, peak: $0["peak_index_in_window"]!,
                                 start: $0["start_in_window"]!, end: $0["end_in_window_inclusive"]!)
        }
        #expect(removals == want)
        let changed = y.indices.filter { y[$0] != f.x[$0] }
        #expect(changed == spikes["changed_indices"] as! [Int])
        #expect(changed.allSatisfy { y[$0] == SpikeRemoval.fillValue })
        // index.json's spike-removal tolerance (atol 1e-12) is about the algorithm: every
        // sample but the changed ones is the input, bit for bit, which the lines above check
        // more strictly. The stored output itself is rounded to 9 significant digits, so it
        // is compared at that storage precision.
        if let output = spikes["output"] as? [String: Any] {
            expectParity(y, output, Tolerance(rtol: 1e-8, atol: 0), "spike removal stored output \(name)")
        }
        print("parity spike removal \(name): \(removals.count) removals, \(changed.count) changed indices, all match")
    }
}
