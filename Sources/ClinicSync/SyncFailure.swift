import Foundation

extension SyncMachine.Failure {
    /// How an HTTP answer that is not a success counts for the machine, from its status and its
    /// `{"error","message"}` body (docs/sync-protocol.md, "Errors"). The server's message is
    /// shown to the user only cleaned: no control or format characters, at most 200 characters.
    public init(status: Int, body: [UInt8]) {
        let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(body))
        let code = error?.error ?? ""
        let message = Self.clean(error?.message ?? "")
        switch status {
        case 401: self = .unauthorized
        case 413: self = .tooLarge
        case 409 where code == "wrong_offset", 422 where code == "hash_mismatch": self = .uploadOutOfStep
        case 409 where code == "upload_busy", 429, 500...599: self = .server(status: status, message: message)
        default:
            let what = error == nil ? "an answer that is not the sync protocol's" : "\(Self.clean(code)): \(message)"
            self = .refused("HTTP \(status), \(what)")
        }
    }

    static func clean(_ text: String) -> String {
        let kept = text.unicodeScalars.filter { s in
            switch s.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: false
            default: true
            }
        }
        var out = String(String.UnicodeScalarView(kept))
        if out.count > 200 { out = String(out.prefix(200)) + "…" }
        return out
    }
}
