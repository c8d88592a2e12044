@testable import ClinicAudio
import Foundation
import Testing

/// Hilbert and homomorphic envelopes, autocorrelation, Welch PSD and Springer's chain
/// against scipy and Training/dsp_reference.py.
@Suite struct EnvelopeParityTests {
    @Test(arguments: DSPFixtures.names)
    func envelopesAutocorrelationAndWelchMatchScipy(_ name: String) throws {
        let f = try DSPFixture(name)
        expectParity(Envelope.hilbert(f.x), f.dict("hilbert_envelope", "output"),
                     DSPFixtures.tolerance("hilbert_envelope"), "hilbert envelope \(name)")
        expectParity(try Envelope.homomorphic(f.x, sampleRate: f.sampleRate), f.dict("homomorphic_envelope", "output"),
                     DSPFixtures.tolerance("homomorphic_envelope"), "homomorphic envelope \(name)")
        expectParity(try Envelope.autocorrelation(f.x), f.dict("autocorrelation", "output"),
                     DSPFixtures.tolerance("autocorrelation"), "autocorrelation \(name)")
        let welch = try Welch.psd(f.x, sampleRate: f.sampleRate, segmentLength: 256)
        #expect(welch.frequencies == f.dict("welch")["frequencies_hz"] as! [Double])
        expectParity(welch.psd, f.dict("welch", "psd"), DSPFixtures.tolerance("welch_psd"), "welch psd \(name)")
    }

    @Test(arguments: DSPFixtures.twoKilohertzNames)
    func springerChainMatchesTheReference(_ name: String) throws {
        let f = try DSPFixture(name)
        let chain = f.dict("springer_chain")
        let bandpass = try IIR.sosfiltfilt(Butterworth.sos(order: 4, .bandpass(25, 400), sampleRate: f.sampleRate), f.x)
        let (despiked, removals) = SpikeRemoval.apply(bandpass, sampleRate: f.sampleRate)
        #expect(removals.count == chain["spike_removals"] as! Int)
        let envelope = try Envelope.homomorphic(despiked, sampleRate: f.sampleRate)
        expectParity(envelope, chain["homomorphic_envelope"] as! [String: Any],
                     DSPFixtures.tolerance("homomorphic_envelope"), "springer chain envelope \(name)")
        expectParity(try Envelope.autocorrelation(envelope), chain["autocorrelation"] as! [String: Any],
                     DSPFixtures.tolerance("autocorrelation"), "springer chain autocorrelation \(name)")
    }

    @Test func degenerateInputsAreRefused() {
        #expect(throws: DSPError.self) { try Envelope.autocorrelation([0.5, 0.5, 0.5]) }
        #expect(throws: DSPError.self) { try Welch.psd([Double](repeating: 0, count: 100), sampleRate: 2000) }
        #expect(throws: DSPError.self) { try Envelope.homomorphic([0.1, 0.2, 0.3], sampleRate: 2000) }
    }
}
