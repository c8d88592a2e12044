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
/// `onServerRunning` is called with the port once it listens (useful with port 0).
public func buildApplication(_ config: ServerConfiguration, storage: any ServerStorage, blobs: any BlobStorage,
                             logger: Logger = Logger(label: "clinic-server"), dependencies: Dependencies = .live,
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
    let router = buildRouter(config, storage: storage, blobs: blobs, dependencies: dependencies)
    let readLimit = TimeAmount(config.requestReadTimeout)
    var server: HTTPServerBuilder = .http1(configuration: .init(additionalChannelHandlers: [RequestReadDeadline(limit: readLimit)],
                                                                idleTimeout: TimeAmount(config.idleTimeout)))
    if let tls = config.tls {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
        var tlsConfig = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tlsConfig.minimumTLSVersion = .tlsv12
        server = try .tls(server, tlsConfiguration: tlsConfig)
    }
    return Application(router: router, server: server,
                       configuration: .init(address: .hostname(config.host, port: config.port), serverName: "clinic-server",
                                            availableConnectionsDelegate: .maximum(config.maxConnections, logger: logger)),
                       onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? config.port) },
                       logger: logger)
}

/// The routes (docs/sync-protocol.md, docs/openapi.yaml).
public func buildRouter(_ config: ServerConfiguration, storage: any ServerStorage, blobs: any BlobStorage,
                        dependencies: Dependencies = .live) -> Router<ClinicRequestContext> {
    let router = Router(context: ClinicRequestContext.self)
    router.get("v1/health") { _, _ in
        struct Health: Encodable { var status = "ok"; var version = ClinicServerInfo.version; var protocol_version = SyncProtocol.version }
        return try JSONResponse(Health())
    }
    let api = router.group("v1").add(middleware: DeviceAuthenticator(storage: storage))
    SyncController(config: config, storage: storage, dependencies: dependencies).add(to: api)
    BlobController(config: config, storage: storage, blobs: blobs, dependencies: dependencies).add(to: api)
    return router
}

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

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

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
