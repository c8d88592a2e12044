import ClinicSync

/// An outcome as a backend stores it.
extension PushOutcome {
    init(stored: String) throws {
        guard let value = PushOutcome(rawValue: stored) else { throw ServerError.internalError("bad outcome in database") }
        self = value
    }
}
