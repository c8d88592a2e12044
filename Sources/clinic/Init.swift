import ArgumentParser
import ClinicStore
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new store and give this device its identity.",
        discussion: "Run once per laptop. The device id is generated; the site and device names can be any text."
    )

    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "The clinic (site) this device belongs to.") var site = "Unnamed clinic"
    @Option(help: "A name for this device.") var deviceName = ProcessInfo.processInfo.hostName
    @OptionGroup var output: JSONFlag

    func run() throws {
        let store = try ClinicStore.create(at: storeOptions.url, site: site, deviceName: deviceName)
        let identity = try store.identity()
        if output.json {
            try Output.json(["store": storeOptions.url.path, "device_id": identity.deviceID, "site": identity.site, "device_name": identity.deviceName])
        } else {
            print("Created a clinic store at \(storeOptions.url.path)")
            print("Site: \(identity.site)   Device: \(identity.deviceName) (\(identity.deviceID))")
        }
    }
}
