import ClinicSync
import NIOCore

/// The server's readers of what arrives from the network, exactly as the routes call them,
/// public so the standing fuzzer (`clinic-server-fuzz`, Fuzz/Server) drives them from outside.
public enum RequestReaders {
    /// Why a reader refused its input: the message the client gets with its 400.
    public struct Refusal: Error, Equatable, Sendable {
        public let message: String
    }

    /// A `POST /v1/changes` body, read by `PushBody`.
    public static func pushBody(_ bytes: [UInt8]) -> Result<PushRequest, Refusal> { pushBody(ByteBuffer(bytes: bytes)) }

    /// The same, from the buffer the route collected (no copy).
    static func pushBody(_ buffer: ByteBuffer) -> Result<PushRequest, Refusal> {
        do {
            return .success(try PushBody.decode(buffer))
        } catch let error as PushBodyError {
            return .failure(Refusal(message: error.message))
        } catch {
            return .failure(Refusal(message: "unexpected error type \(type(of: error))"))
        }
    }

    /// A `Range` header against a blob of `size` bytes (nil: 416).
    public static func range(_ header: String, size: Int64) -> Range<Int64>? { parseRange(header, size: size) }

    /// A query parameter (`offset`, `total`, `after`, `limit`) as the routes read it.
    public static func queryInteger(_ text: String?, name: String, default value: Int64, range: ClosedRange<Int64>) -> Result<Int64, Refusal> {
        do {
            return .success(try integer(text, name, default: value, range: range))
        } catch let error as ServerError {
            return .failure(Refusal(message: error.message))
        } catch {
            return .failure(Refusal(message: "unexpected error type \(type(of: error))"))
        }
    }
}
