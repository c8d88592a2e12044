import ClinicTestSupport
import ClinicCore
import Foundation
import Testing

/// The built `clinic` binary: beside the test bundle in the build directory.
let clinicBinary: URL = {
    if let path = ProcessInfo.processInfo.environment["CLINIC_BIN"] { return URL(fileURLWithPath: path) }
    var dir = Bundle.main.bundleURL
    for _ in 0..<4 {
        let candidate = dir.appending(path: "clinic")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: ".build/debug/clinic")
}()

let samplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appending(path: "Samples")

func sample(_ name: String) -> String { samplesDirectory.appending(path: name).path }

struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
}

/// Runs `clinic` with `arguments` and waits for it.
@discardableResult
func clinic(_ arguments: [String], store: URL?, environment: [String: String] = [:], prefix: [String] = [], input: String? = nil) throws -> Result {
    let (tool, args) = prefix.isEmpty ? (clinicBinary, arguments)
        : (URL(fileURLWithPath: prefix[0]), Array(prefix.dropFirst()) + [clinicBinary.path] + arguments)
    var env = ProcessInfo.processInfo.environment
    env["CLINIC_STORE"] = store?.path
    if store == nil { env.removeValue(forKey: "CLINIC_STORE") }
    env.merge(environment) { $1 }
    let r = try runProcess(tool, args, environment: env, input: input)
    return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
}

/// A new store in a fresh temporary directory.
func newStore() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appending(path: "clinic-cli-\(UUID().uuidString)")
    let r = try clinic(["init", "--site", "Test clinic", "--device-name", "laptop-1"], store: dir)
    #expect(r.status == 0, "\(r.stderr)")
    return dir
}

func cleanup(_ url: URL) { try? FileManager.default.removeItem(at: url) }

/// Every file under `dir` with the SHA-256 of its bytes: to show a refused command changed nothing.
func snapshot(_ dir: URL) -> [String: String] {
    var result: [String: String] = [:]
    let enumerator = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey])
    while let url = enumerator?.nextObject() as? URL {
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
        result[String(url.path.dropFirst(dir.path.count))] = sha256Hex(FileManager.default.contents(atPath: url.path) ?? Data())
    }
    return result
}

func addPatient(_ store: URL, _ given: String = "Amina", _ family: String = "Okafor") throws -> String {
    let r = try clinic(["patient", "add", "--given-name", given, "--family-name", family], store: store)
    #expect(r.status == 0, "\(r.stderr)")
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
