import Hummingbird

/// Checks `Authorization: Bearer <token>` against the stored hashes of unrevoked devices.
struct DeviceAuthenticator: RouterMiddleware {
    let storage: any ServerStorage

    func handle(_ request: Request, context: ClinicRequestContext,
                next: (Request, ClinicRequestContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw ServerError.unauthorized }
        // HTTP's optional white space is spaces and tabs only (RFC 9110 §5.6.3): a no-break
        // space or any other Unicode space is part of the token, which then does not match.
        var token = header.dropFirst("Bearer ".count)
        while let c = token.first, c == " " || c == "\t" { token = token.dropFirst() }
        while let c = token.last, c == " " || c == "\t" { token = token.dropLast() }
        guard Tokens.isWellFormed(String(token)) else { throw ServerError.unauthorized }
        let hash = Tokens.hash(String(token))
        guard let (device, stored) = try await storage.device(tokenHash: hash), Tokens.constantTimeEqual(hash, stored) else {
            throw ServerError.unauthorized
        }
        var context = context
        context.device = device
        return try await next(request, context)
    }
}
