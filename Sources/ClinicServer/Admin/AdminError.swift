/// Errors of the admin commands, printed to the administrator.
public struct AdminError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
