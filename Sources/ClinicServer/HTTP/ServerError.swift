import ClinicSync
import Foundation
import HTTPTypes
import Hummingbird

/// An error the server answers with: an HTTP status and a JSON body `{"error", "message"}`.
/// Messages name what is wrong with the request, never record contents.
public struct ServerError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// For 416: `bytes */SIZE`.
    var contentRange: String?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONEncoder().encode(ErrorBody(error: code, message: message))) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let contentRange { headers[.contentRange] = contentRange }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func badRequest(_ message: String) -> ServerError { .init(.badRequest, "bad_request", message) }
    static let unauthorized = ServerError(.unauthorized, "unauthorized", "A valid device token is required (Authorization: Bearer ...).")
    static func notFound(_ message: String) -> ServerError { .init(.notFound, "not_found", message) }
    static func internalError(_ message: String) -> ServerError { .init(.internalServerError, "internal", message) }
}
