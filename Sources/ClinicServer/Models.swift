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

enum JSON {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

extension PushOutcome {
    init(stored: String) throws {
        guard let value = PushOutcome(rawValue: stored) else { throw ServerError.internalError("bad outcome in database") }
        self = value
    }
}
