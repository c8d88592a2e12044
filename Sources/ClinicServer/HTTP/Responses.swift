import Hummingbird
import NIOCore

/// A JSON response from any Encodable.
func JSONResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(bytes: try JSON.encoder.encode(value))))
}

/// The body, or 413 with an error body when it is larger than `limit`.
func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
    do {
        return try await request.body.collect(upTo: limit)
    } catch is NIOTooManyBytesError {
        throw ServerError(.contentTooLarge, "too_large", "The request body is larger than \(limit) bytes (see /v1/capabilities).")
    }
}
