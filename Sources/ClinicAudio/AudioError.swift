import ClinicCore

/// Why an audio file was refused. Messages name the problem and what to do, never patient data.
public struct AudioError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        case missing, notAFile, unreadable, empty, fileTooLarge
        case notAudio, truncated, zeroFrames, unsupported, nonFinite, tooLong, silent
        case badSampleRate, badChannels, encodeFailed, verifyFailed, writeFailed
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }

    /// The same problem as a `ClinicError`, for the CLI.
    public var clinicError: ClinicError {
        switch reason {
        case .encodeFailed, .verifyFailed, .writeFailed, .unreadable: ClinicError(.io, message)
        default: ClinicError(.invalidInput, message)
        }
    }
}
