import ClinicAssessment
import ClinicCore
import Foundation
import Testing

/// A researcher's model folder (`--models DIR`, `CLINIC_MODELS`): each file checked against
/// SHA256SUMS before it is read; every way it can be broken gives an error naming the file.
@Suite struct ModelFolderTests {
    /// A copy of the repository's Models/ in a temporary folder.
    static func copy() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appending(path: "models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["quality.json", "abnormal.json", "murmur.json", "valve.json", "heart_sound.json", "segmentation.json", "SHA256SUMS"] {
            try FileManager.default.copyItem(at: ParityTests.root.appending(path: "Models/\(name)"), to: dir.appending(path: name))
        }
        return dir
    }

    /// Rewrites one model file and its checksum (so only the content is wrong, not the sum).
    static func replace(_ dir: URL, _ name: String, with data: Data) throws {
        try data.write(to: dir.appending(path: name))
        let sums = try String(contentsOf: dir.appending(path: "SHA256SUMS"), encoding: .utf8).split(separator: "\n").map { line in
            line.hasSuffix("  \(name)") ? "\(sha256Hex([UInt8](data)))  \(name)" : String(line)
        }
        try (sums.joined(separator: "\n") + "\n").write(to: dir.appending(path: "SHA256SUMS"), atomically: true, encoding: .utf8)
    }

    @Test func theRepositorysModelsLoadFromAFolderAndEqualTheBuiltInOnes() throws {
        let dir = try Self.copy(); defer { try? FileManager.default.removeItem(at: dir) }
        let loaded = try Assessor.load(directory: dir), shipped = try Assessor.shipped()
        #expect(loaded.quality.file == shipped.quality.file && loaded.abnormal.file == shipped.abnormal.file && loaded.murmur.file == shipped.murmur.file,
                "Models/ and the built-in models differ: rebuild")
        #expect(loaded.valve?.file == shipped.valve?.file && loaded.heartSound?.file == shipped.heartSound?.file && loaded.valve != nil)
    }

    @Test func aBrokenFolderIsRefusedNamingTheFile() throws {
        func refusal(_ breakIt: (URL) throws -> Void) throws -> String {
            let dir = try Self.copy(); defer { try? FileManager.default.removeItem(at: dir) }
            try breakIt(dir)
            do { _ = try Assessor.load(directory: dir); return "loaded" } catch { return error.description }
        }
        let quality = try Data(contentsOf: ParityTests.root.appending(path: "Models/quality.json"))
        let missing = try refusal { try FileManager.default.removeItem(at: $0.appending(path: "murmur.json")) }
        #expect(missing.contains("murmur.json is missing"), "\(missing)")
        let noSums = try refusal { try FileManager.default.removeItem(at: $0.appending(path: "SHA256SUMS")) }
        #expect(noSums.contains("SHA256SUMS is missing"), "\(noSums)")
        let damaged = try refusal { var d = quality; d[d.count / 2] ^= 1; try d.write(to: $0.appending(path: "quality.json")) }
        #expect(damaged.contains("quality.json does not match its checksum"), "\(damaged)")
        let truncated = try refusal { try Self.replace($0, "quality.json", with: quality.prefix(quality.count / 3)) }
        #expect(truncated.contains("quality.json") && truncated.contains("not a clinic-model file"), "\(truncated)")
        let future = try refusal {
            let text = String(decoding: quality, as: UTF8.self).replacingOccurrences(of: "\"format_version\": 1", with: "\"format_version\": 4")
            try Self.replace($0, "quality.json", with: Data(text.utf8))
        }
        #expect(future.contains("quality.json") && future.contains("version 4 is not clinic-model version 1, 2 or 3"), "\(future)")
        // A class model the folder lists is checked like the others.
        let valve = try Data(contentsOf: ParityTests.root.appending(path: "Models/valve.json"))
        let badValve = try refusal { var d = valve; d[d.count / 2] ^= 1; try d.write(to: $0.appending(path: "valve.json")) }
        #expect(badValve.contains("valve.json does not match its checksum"), "\(badValve)")
        let cutValve = try refusal { try Self.replace($0, "valve.json", with: valve.prefix(100)) }
        #expect(cutValve.contains("valve.json") && cutValve.contains("not a clinic-classes file"), "\(cutValve)")
    }
}
