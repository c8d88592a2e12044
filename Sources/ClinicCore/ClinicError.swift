/// An error a person can act on. `message` speaks to the user (a nurse or an administrator)
/// and never contains patient data; `reason` lets scripts and callers branch.
public struct ClinicError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a category with a stable exit code.
    public enum Reason: String, Sendable, Equatable, CaseIterable {
        /// Input that cannot be accepted: a field, an option, an audio file.
        case invalidInput
        /// A patient, recording or other record that does not exist.
        case notFound
        /// The thing already exists (for instance the same audio for the same patient).
        case duplicate
        /// The store is missing, not initialised, locked or not writable.
        case store
        /// `clinic doctor` found problems.
        case integrity
        /// Reading or writing a file failed.
        case io
        /// `clinic sync` could not finish (no network, the server refused, the token is wrong);
        /// what it did is kept.
        case sync
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }

    /// The process exit code for this error (documented in the README).
    public var exitCode: Int32 {
        switch reason {
        case .invalidInput: 3
        case .notFound: 4
        case .duplicate: 5
        case .store: 6
        case .integrity: 7
        case .io: 8
        case .sync: 9
        }
    }

    public static func invalid(_ message: String) -> ClinicError { .init(.invalidInput, message) }
}
