import ClinicAudio
import ClinicCore
import ClinicStore
import Foundation
import Synchronization
import Testing

/// A test clock that starts at a fixed time and moves 1 ms per reading, and sequential UUIDs.
func testDependencies(start: Date = Date(timeIntervalSince1970: 1_795_000_000)) -> Dependencies {
    let ticks = Mutex<Int>(0)
    let ids = Mutex<Int>(0)
    return Dependencies(
        now: { start.addingTimeInterval(Double(ticks.withLock { $0 += 1; return $0 }) / 1000) },
        uuid: {
            let n = ids.withLock { $0 += 1; return $0 }
            return UUID(uuidString: String(format: "00000000-0000-4000-8000-%012x", n))!
        })
}

enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory, file
    var testDescription: String { rawValue }
}

/// A store of the given kind in a fresh temporary directory (the audio files always go there).
func makeStore(_ kind: StoreKind, dependencies: Dependencies = testDependencies()) throws -> (ClinicStore, URL) {
    let dir = FileManager.default.temporaryDirectory.appending(path: "clinic-store-\(UUID().uuidString)")
    switch kind {
    case .memory:
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (try ClinicStore.inMemory(audioDirectory: dir, dependencies: dependencies), dir)
    case .file:
        return (try ClinicStore.create(at: dir, site: "Test site", deviceName: "test", dependencies: dependencies), dir)
    }
}

func cleanup(_ url: URL) { try? FileManager.default.removeItem(at: url) }

/// The repository's sample recordings.
let samplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appending(path: "Samples")

/// A NewRecording for `path`, prepared as `clinic add-recording` does.
func newRecording(_ path: String, patient: UUID, location: AuscultationLocation = .AV) throws -> NewRecording {
    let a = try AudioImport.prepare(path: path)
    return NewRecording(
        patientID: patient, location: location, recordedAt: Date(timeIntervalSince1970: 1_795_000_000),
        operatorName: "Nurse", device: "Steth", originalFilename: URL(fileURLWithPath: path).lastPathComponent, audio: a)
}
