/// Why a signal-processing step could not run. The input is never patient data, but the
/// messages still only name the problem, not the values.
public struct DSPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        /// A parameter is out of range (a cutoff at or above Nyquist, an order of 0, ...).
        case invalidParameter
        /// The signal is too short for the step (e.g. shorter than a filter's edge padding).
        case tooShort
        /// The signal has no variation where the step needs some (autocorrelation of a constant).
        case degenerate
        /// A C library (FFTW, libsoxr) reported a failure.
        case library
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

