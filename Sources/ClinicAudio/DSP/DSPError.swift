/// Why a signal-processing step could not run. The input is never patient data, but the
/// messages still only name the problem, not the values.
public struct DSPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
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

    /// The kind of problem.
    public var reason: Reason
    /// What went wrong, for people.
    public var message: String

    /// An error with its reason and message.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

