import Foundation
import Testing

/// `clinic` finds its store and cache under `$HOME`, as the quick start (and every Unix
/// tool) does, not only under the account's home from the password database.
@Suite struct HomeDirectoryTests {
    @Test func theStoreAndTheFFTCacheLiveUnderHOME() throws {
        let home = FileManager.default.temporaryDirectory.appending(path: "clinic-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        var environment = ["HOME": home.path]
        environment["XDG_CACHE_HOME"] = ""  // not absolute: ignored, as the spec says
        let created = try clinic(["init", "--site", "Home clinic", "--device-name", "laptop-9"], store: nil, environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(FileManager.default.fileExists(atPath: home.appending(path: ".clinic").path))
        #expect(try clinic(["status"], store: nil, environment: environment).status == 0)
        let features = try clinic(["features", sample("physionet2016_b0001.flac")], store: nil, environment: environment)
        #expect(features.status == 0, "\(features.stderr)")
        let wisdom = home.appending(path: ".cache/clinic/fftw-wisdom").path
        #expect((try? String(contentsOfFile: wisdom, encoding: .utf8))?.hasPrefix("(fftw-3") == true)
    }
}
