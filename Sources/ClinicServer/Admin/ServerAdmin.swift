import ClinicCore
import Foundation

/// The administrator's operations: sites and device enrolment (`clinic-server site|device`).
public struct ServerAdmin: Sendable {
    public let storage: any ServerStorage
    let dependencies: Dependencies

    public init(storage: any ServerStorage, dependencies: Dependencies = .live) {
        self.storage = storage
        self.dependencies = dependencies
    }

    private var now: String { Timestamp.format(dependencies.now()) }

    public func addSite(name: String) async throws -> SiteRecord {
        let name = try TextField.singleLine(name, field: "Site name", maxLength: 200)
        let site = SiteRecord(id: dependencies.uuid().lowercased, name: name, createdAt: now)
        try await storage.createSite(site)
        return site
    }

    /// Enrols a device at a site (by name or id) and returns it with its bearer token, shown only now.
    /// `deviceID` is the laptop's own id (`clinic status` shows it): its change log is signed with it.
    public func enroll(site: String, name: String?, deviceID: UUID? = nil) async throws -> (DeviceRecord, token: String) {
        let sites = try await storage.sites()
        guard let s = sites.first(where: { $0.name == site || $0.id == site.lowercased() }) else {
            throw AdminError("No site named \(site.count > 60 ? "that" : "\"\(site)\""). Add it first with `clinic-server site add NAME`.")
        }
        let deviceName = try TextField.singleLine(name ?? "device", field: "Device name", maxLength: 200)
        let token = Tokens.generate()
        if let deviceID, try await storage.devices().contains(where: { $0.id == deviceID }) {
            throw AdminError("Device \(deviceID.lowercased) is already enrolled; revoke it first to issue a new token.")
        }
        let device = DeviceRecord(id: deviceID ?? dependencies.uuid(), siteID: s.id, siteName: s.name, name: deviceName, createdAt: now)
        try await storage.createDevice(device, tokenHash: Tokens.hash(token))
        return (device, token)
    }

    public func revoke(device: String) async throws {
        guard let id = UUID(strict: device) else { throw AdminError("Give the device id shown by `clinic-server device list`.") }
        guard try await storage.revokeDevice(id: id, at: now) else {
            throw AdminError("No device with id \(id.lowercased).")
        }
    }
}
