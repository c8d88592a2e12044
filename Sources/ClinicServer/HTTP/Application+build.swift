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

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
