import ClinicCore
import ClinicSync
import Foundation

/// A clinic (site): devices belong to one; each sees only its own site's records.
public struct SiteRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: String
    enum CodingKeys: String, CodingKey { case id, name, createdAt = "created_at" }
}

/// An enrolled device. Its bearer token is never stored, only its SHA-256.
public struct DeviceRecord: Codable, Sendable, Equatable {
    public var id: UUID
    public var siteID: String
    public var siteName: String
    public var name: String
    public var createdAt: String
    public var revokedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, siteID = "site_id", siteName = "site_name", name, createdAt = "created_at", revokedAt = "revoked_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(siteID, forKey: .siteID)
        try c.encode(siteName, forKey: .siteName)
        try c.encode(name, forKey: .name)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(revokedAt, forKey: .revokedAt)
    }
}
