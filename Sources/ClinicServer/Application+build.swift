import ClinicCore
import ClinicSync
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// The request context: who is calling, once the token is checked.
public struct ClinicRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var device: DeviceRecord?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        device = nil
    }

    /// The authenticated device; the auth middleware guarantees it on every route but health.
    func requireDevice() throws -> DeviceRecord {
        guard let device else { throw ServerError.unauthorized }
        return device
    }
}

/// Builds the server: routes, middleware and services over `storage` and `blobs`.
public func buildApplication(_ config: ServerConfiguration, storage: any ServerStorage, blobs: any BlobStorage,
                             logger: Logger = Logger(label: "clinic-server")) throws -> some ApplicationProtocol {
    let router = buildRouter(config, storage: storage, blobs: blobs)
    var server: HTTPServerBuilder = .http1()
    if let tls = config.tls {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
        var tlsConfig = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tlsConfig.minimumTLSVersion = .tlsv12
        server = try .tls(.http1(), tlsConfiguration: tlsConfig)
    }
    return Application(router: router, server: server,
                       configuration: .init(address: .hostname(config.host, port: config.port), serverName: "clinic-server"),
                       logger: logger)
}

/// The routes (docs/sync-protocol.md, docs/openapi.yaml).
public func buildRouter(_ config: ServerConfiguration, storage: any ServerStorage, blobs: any BlobStorage) -> Router<ClinicRequestContext> {
    let router = Router(context: ClinicRequestContext.self)
    router.get("v1/health") { _, _ in
        struct Health: Encodable { var status = "ok"; var version = ClinicServerInfo.version; var protocol_version = SyncProtocol.version }
        return try JSONResponse(Health())
    }
    let api = router.group("v1").add(middleware: DeviceAuthenticator(storage: storage))
    SyncController(config: config, storage: storage).add(to: api)
    BlobController(config: config, storage: storage, blobs: blobs).add(to: api)
    return router
}

/// Checks `Authorization: Bearer <token>` against the stored hashes of unrevoked devices.
struct DeviceAuthenticator: RouterMiddleware {
    let storage: any ServerStorage

    func handle(_ request: Request, context: ClinicRequestContext,
                next: (Request, ClinicRequestContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw ServerError.unauthorized }
        let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard Tokens.isWellFormed(token) else { throw ServerError.unauthorized }
        let hash = Tokens.hash(token)
        guard let (device, stored) = try await storage.device(tokenHash: hash), Tokens.constantTimeEqual(hash, stored) else {
            throw ServerError.unauthorized
        }
        var context = context
        context.device = device
        return try await next(request, context)
    }
}

/// A JSON response from any Encodable.
func JSONResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(bytes: try JSON.encoder.encode(value))))
}

/// Reads a JSON body of at most `limit` bytes (413 above it) into `T` (400 with the reason otherwise).
func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
    let buffer = try await collect(request, limit: limit)
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let error as DecodingError {
        throw ServerError.badRequest(describe(error))
    }
}

/// The body, or 413 with an error body when it is larger than `limit`.
func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
    do {
        return try await request.body.collect(upTo: limit)
    } catch is NIOTooManyBytesError {
        throw ServerError(.contentTooLarge, "too_large", "The request body is larger than \(limit) bytes (see /v1/capabilities).")
    }
}

/// A decoding error as a path and what was expected, never the offending value.
func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the body" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
    switch error {
    case .typeMismatch(let type, let c): return "\(path(c.codingPath)): expected \(type)"
    case .valueNotFound(let type, let c): return "\(path(c.codingPath)): expected \(type), found null"
    case .keyNotFound(let key, let c): return "\(path(c.codingPath + [key])): missing"
    case .dataCorrupted(let c):
        // JSONDecoder's own descriptions can quote the offending value; say only where.
        return c.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(c.codingPath)): invalid value"
    @unknown default: return "the body does not match the expected shape"
    }
}
