import ClinicCore
import ClinicSync
import Foundation
import Hummingbird

/// Resumable audio upload and ranged download, by SHA-256. A site sees only blobs it uploaded.
struct BlobController {
    let config: ServerConfiguration
    let storage: any ServerStorage
    let blobs: any BlobStorage
    let dependencies: Dependencies

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
            try await storage.addBlob(sha256: sha, size: total, siteID: device.siteID, now: Timestamp.format(dependencies.now()))
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
        guard let sha = context.parameters.get("sha"), isSHA256Hex(sha) else {
            throw ServerError.badRequest("A blob id is 64 lowercase hexadecimal characters (its SHA-256).")
        }
        return sha
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `size`; nil if malformed or unsatisfiable.
/// Numbers are plain decimal digits (RFC 9110 `1*DIGIT`) of any length: one past Int64 is
/// taken as Int64.max, which is what it means here (an end past the blob, a suffix longer than it).
func parseRange(_ header: String, size: Int64) -> Range<Int64>? {
    guard header.hasPrefix("bytes="), size > 0 else { return nil }
    let spec = header.utf8.dropFirst("bytes=".count).split(separator: UInt8(ascii: "-"), maxSplits: 2, omittingEmptySubsequences: false)
    guard spec.count == 2 else { return nil }
    if spec[0].isEmpty {
        guard let n = decimal(spec[1], saturating: true), n > 0 else { return nil }
        return max(0, size - n)..<size
    }
    guard let start = decimal(spec[0], saturating: true), start < size else { return nil }
    if spec[1].isEmpty { return start..<size }
    guard let end = decimal(spec[1], saturating: true), end >= start else { return nil }
    // `end` may be anything up to Int64.max: clamp it before adding one.
    return start..<(min(end, size - 1) + 1)
}

/// A non-negative decimal number of ASCII digits only (no sign, no spaces; leading zeros
/// allowed), or nil when it is empty or has another character. Past Int64.max: nil, or
/// Int64.max when `saturating`.
func decimal(_ text: some Collection<UInt8>, saturating: Bool = false) -> Int64? {
    guard !text.isEmpty else { return nil }
    var n: Int64 = 0
    var overflow = false
    for c in text {
        guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
        guard !overflow else { continue }
        let (times, o1) = n.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
        if o1 || o2 { overflow = true } else { n = sum }
    }
    return overflow ? (saturating ? Int64.max : nil) : n
}
