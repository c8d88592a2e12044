import ClinicCore
import ClinicSync
import Foundation
import Hummingbird

/// Resumable audio upload and ranged download, by SHA-256. A site sees only blobs it uploaded.
struct BlobController {
    let config: ServerConfiguration
    let storage: any ServerStorage
    let blobs: any BlobStorage

    func add(to group: RouterGroup<ClinicRequestContext>) {
        group.get("blobs/:sha/status") { _, context in
            let device = try context.requireDevice()
            let sha = try blobID(context)
            return try JSONResponse(try await status(sha, site: device.siteID))
        }
        group.put("blobs/:sha") { request, context in
            let device = try context.requireDevice()
            let sha = try blobID(context)
            let offset = try integer(request, "offset", default: -1, range: 0...config.maxBlobBytes)
            let total = try integer(request, "total", default: -1, range: 1...config.maxBlobBytes)
            guard offset >= 0, total >= 1 else { throw ServerError.badRequest("Query parameters offset and total are required.") }
            let current = try await status(sha, site: device.siteID)
            if current.complete { return try JSONResponse(current) }
            let chunk = try await collect(request, limit: config.chunkBytes)
            guard offset + Int64(chunk.readableBytes) <= total else {
                throw ServerError.badRequest("The chunk runs past the total size given.")
            }
            let received = try blobs.append(sha256: sha, site: device.siteID, offset: offset, bytes: Array(chunk.readableBytesView))
            guard received == total else { return try JSONResponse(BlobStatus(sha256: sha, received: received, complete: false, size: total)) }
            guard try blobs.finish(sha256: sha, site: device.siteID) else {
                throw ServerError(.unprocessableContent, "hash_mismatch",
                                  "The uploaded bytes do not match their SHA-256; they were discarded. Upload again from offset 0.")
            }
            try await storage.addBlob(sha256: sha, size: total, siteID: device.siteID, now: Timestamp.format(Date()))
            return try JSONResponse(BlobStatus(sha256: sha, received: total, complete: true, size: total))
        }
        group.get("blobs/:sha") { request, context in
            let device = try context.requireDevice()
            let sha = try blobID(context)
            guard let size = try await storage.blobSize(sha256: sha, siteID: device.siteID) else {
                throw ServerError.notFound("This site holds no blob with that SHA-256.")
            }
            var range: Range<Int64> = 0..<size
            var status: HTTPResponse.Status = .ok
            var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes"]
            if let header = request.headers[.range] {
                guard let r = parseRange(header, size: size) else {
                    var error = ServerError(.rangeNotSatisfiable, "bad_range", "The Range header must be bytes=START-END within the blob's \(size) bytes.")
                    error.contentRange = "bytes */\(size)"
                    throw error
                }
                range = r
                status = .partialContent
                headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(size)"
            }
            let bytes = try blobs.read(sha256: sha, range: range)
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    private func status(_ sha: String, site: String) async throws -> BlobStatus {
        if let size = try await storage.blobSize(sha256: sha, siteID: site) {
            return BlobStatus(sha256: sha, received: size, complete: true, size: size)
        }
        return BlobStatus(sha256: sha, received: try blobs.received(sha256: sha, site: site), complete: false, size: nil)
    }

    private func blobID(_ context: ClinicRequestContext) throws -> String {
        guard let sha = context.parameters.get("sha"), FileBlobStorage.isValid(sha) else {
            throw ServerError.badRequest("A blob id is 64 lowercase hexadecimal characters (its SHA-256).")
        }
        return sha
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `size`; nil if malformed or unsatisfiable.
func parseRange(_ header: String, size: Int64) -> Range<Int64>? {
    guard header.hasPrefix("bytes="), !header.contains(","), size > 0 else { return nil }
    let spec = header.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
    guard spec.count == 2 else { return nil }
    if spec[0].isEmpty {
        guard let n = Int64(spec[1]), n > 0 else { return nil }
        return max(0, size - n)..<size
    }
    guard let start = Int64(spec[0]), start >= 0, start < size else { return nil }
    if spec[1].isEmpty { return start..<size }
    guard let end = Int64(spec[1]), end >= start else { return nil }
    return start..<min(end + 1, size)
}
