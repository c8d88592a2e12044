import ClinicCore
import ClinicSync
import Foundation
import Hummingbird

/// Capabilities, push, pull and conflicts.
struct SyncController {
    let config: ServerConfiguration
    let storage: any ServerStorage
    let dependencies: Dependencies

    func add(to group: RouterGroup<ClinicRequestContext>) {
        group.get("capabilities") { _, context in
            _ = try context.requireDevice()
            return try JSONResponse(Capabilities(protocolVersion: SyncProtocol.version, serverVersion: ClinicServerInfo.version,
                                                 maxRequestBytes: config.maxRequestBytes, maxBatch: config.maxBatch,
                                                 chunkBytes: config.chunkBytes, maxPull: config.maxPull, maxBlobBytes: config.maxBlobBytes,
                                                 conflictStatus: true))
        }
        group.post("changes") { request, context in
            let device = try context.requireDevice()
            let push = try await decodePush(request, limit: config.maxRequestBytes)
            guard push.changes.count <= config.maxBatch else {
                throw ServerError(.contentTooLarge, "batch_too_large", "A push carries at most \(config.maxBatch) changes; split the batch.")
            }
            // Checked and encoded here, on the request's task, so the single writer only writes.
            let now = dependencies.now()
            let latest = Int64((now.timeIntervalSince1970 * 1000).rounded(.down)) + config.maxClockSkew.components.seconds * 1000
            let prepared = PreparedPush(push.changes, device: device, now: Timestamp.format(now), newID: dependencies.uuid, latestClock: latest)
            let results = try await storage.push(prepared)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: WireJSON.pushResponse(results)))
        }
        group.get("changes") { request, context in
            let device = try context.requireDevice()
            let after = try integer(request, "after", default: 0, range: 0...Int64.max)
            let limit = try integer(request, "limit", default: Int64(config.maxPull), range: 1...Int64(config.maxPull))
            let omitOwn = try flag(request, "omit_own")
            let entries = try await storage.feed(siteID: device.siteID, after: after, limit: Int(limit) + 1)
            let page = entries.prefix(Int(limit))
            // omit_own: the pulling device's own changes are left out (it has them), and `next`
            // passes them, so a page may carry fewer than `limit` changes, or none, with `more` true.
            // Entries are stored in their wire form: the page is assembled, not re-encoded.
            let me = device.id.lowercased
            let others = omitOwn ? page.filter { $0.deviceID != me } : Array(page)
            let body = WireJSON.pullResponse(others.map(\.json), next: page.last?.serverSeq ?? after, more: entries.count > page.count)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
        group.get("conflicts") { request, context in
            let device = try context.requireDevice()
            let limit = try integer(request, "limit", default: 1_000, range: 1...10_000)
            let status = request.uri.queryParameters.get("status") ?? "all"
            guard status == "all" || status == "open" else { throw ServerError.badRequest("Query parameter status must be open or all.") }
            return try JSONResponse(try await storage.conflicts(siteID: device.siteID, openOnly: status == "open", limit: Int(limit)))
        }
    }
}

/// A push body, read as the fuzzer reads it (`RequestReaders.pushBody`), or 400 saying what is wrong.
func decodePush(_ request: Request, limit: Int) async throws -> PushRequest {
    switch RequestReaders.pushBody(try await collect(request, limit: limit)) {
    case .success(let push): return push
    case .failure(let refusal): throw ServerError.badRequest(refusal.message)
    }
}

/// A non-negative integer query parameter, or 400 naming it.
func integer(_ request: Request, _ name: String, default value: Int64, range: ClosedRange<Int64>) throws -> Int64 {
    try integer(request.uri.queryParameters.get(name), name, default: value, range: range)
}

/// `text` (nil when the parameter is absent) as a decimal integer in `range`, or 400 naming the parameter.
func integer(_ text: String?, _ name: String, default value: Int64, range: ClosedRange<Int64>) throws -> Int64 {
    guard let text else { return value }
    guard let n = decimal(text.utf8), range.contains(n) else {
        throw ServerError.badRequest("Query parameter \(name) must be an integer in \(range.lowerBound)...\(range.upperBound).")
    }
    return n
}

/// A boolean query parameter (`true` or `false`; absent: false), or 400 naming it.
func flag(_ request: Request, _ name: String) throws -> Bool {
    switch request.uri.queryParameters.get(name) {
    case nil, "false": return false
    case "true": return true
    default: throw ServerError.badRequest("Query parameter \(name) must be true or false.")
    }
}
