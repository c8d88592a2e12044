// clinic-bench: the Foundation issue's speed targets, each beside a baseline measured in the
// same run (this machine is shared and noisy; ratios travel better than absolute times).
//
//   swift run -c release clinic-bench [--data ../shared/data] [--patients 100000]
//
// 1. add-recording inside one process (no process start): decode + validate + FLAC encode +
//    verify + hash + fsync'd staging + transaction with change log. Target: median <= 20 ms for
//    a 20-second 4 kHz recording. Baseline: read the file and write a copy with fsync.
// 2. patient search over N patients through the full-text index. Target: median <= 20 ms at
//    100,000 patients. Baseline: the same search as a LIKE '%text%' scan of the table.
// The audio front end's targets are in clinic-audio-bench (Benchmarks/Audio).
import ClinicAudio
import ClinicCore
import ClinicStore
import Foundation

func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
func percentile(_ xs: [Double], _ p: Double) -> Double { let s = xs.sorted(); return s[min(s.count - 1, Int(Double(s.count) * p))] }
func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let work = FileManager.default.temporaryDirectory.appending(path: "clinic-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

// MARK: inputs: 20-second 4 kHz 16-bit WAVs, real ones when the data folder is there.
let imports = 30
var inputs: [String] = []
let dataRoot = argument("--data") ?? "../shared/data"
if let manifest = try? String(contentsOfFile: dataRoot + "/manifest.csv", encoding: .utf8) {
    for line in manifest.split(whereSeparator: \.isNewline).dropFirst() where inputs.count < imports {  // the manifest has CRLF line ends
        let cols = line.split(separator: ",", omittingEmptySubsequences: false)
        guard cols.count > 6, cols[1] == "bmd-hs", cols[5] == "4000", Double(cols[6]) ?? 0 >= 20 else { continue }
        let audio = try AudioReader.read(path: dataRoot + "/" + cols[0])
        let out = work.appending(path: "in\(inputs.count).wav").path
        try AudioWriter.write(samples: Array(audio.samples.prefix(80_000)), sampleRate: 4_000, format: .wav16, to: out)
        inputs.append(out)
    }
}
let source = inputs.isEmpty ? "synthetic (no data folder at \(dataRoot))" : "real BMD-HS recordings, cut to 20 s"
while inputs.count < imports {
    var seed = UInt64(inputs.count + 1)
    let x = (0..<80_000).map { i -> Double in
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        let noise = Double(Int64(bitPattern: seed >> 11) % 1000) / 20_000
        let t = Double(i) / 4000, phase = t.truncatingRemainder(dividingBy: 0.83)
        return noise + (phase < 0.1 ? 0.5 * exp(-phase * 40) * sin(2 * .pi * 50 * phase) : 0)
    }
    let out = work.appending(path: "in\(inputs.count).wav").path
    try AudioWriter.write(samples: x, sampleRate: 4_000, format: .wav16, to: out)
    inputs.append(out)
}

// MARK: 1. add-recording
let store = try ClinicStore.create(at: work.appending(path: "store"), site: "Bench", deviceName: "bench")
let patient = try store.addPatient(PatientInput(givenName: "Bench", familyName: "Patient"))
var importTimes: [Double] = []
for path in inputs {
    importTimes.append(try time {
        let a = try AudioImport.prepare(path: path)
        try store.addRecording(NewRecording(
            patientID: patient.id, location: .AV, recordedAt: Date(), operatorName: nil, device: nil,
            originalFilename: "x.wav", audio: a))
    })
}
var copyTimes: [Double] = []
for (i, path) in inputs.enumerated() {
    copyTimes.append(try time {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let out = work.appending(path: "copy\(i)").path
        _ = FileManager.default.createFile(atPath: out, contents: data)
        let fd = open(out, O_RDONLY); fsync(fd); close(fd)
    })
}
print("add-recording, 20 s at 4 kHz, \(imports) imports of \(source):")
print("  median \(ms(median(importTimes)))  p90 \(ms(percentile(importTimes, 0.9)))  target <= 20 ms  \(median(importTimes) <= 0.020 ? "MET" : "NOT MET")")
print("  baseline (read + write copy + fsync): median \(ms(median(copyTimes)))  ratio import/baseline \(String(format: "%.1f", median(importTimes) / median(copyTimes)))x")

// MARK: 2. patient search
let count = Int(argument("--patients") ?? "") ?? 100_000
let syllables = ["a", "ka", "mi", "na", "to", "ra", "ben", "ji", "lo", "wa", "se", "du", "fi", "gho", "ya", "zu", "ne", "ol", "ama", "isi"]
var rng = UInt64(7)
@MainActor func pick() -> String {
    rng = rng &* 6364136223846793005 &+ 1442695040888963407
    return syllables[Int(rng >> 33) % syllables.count]
}
@MainActor func name() -> String { (pick() + pick() + pick()).capitalized }
let insertTime = try time {
    var batch: [PatientInput] = []
    for i in 0..<count {
        batch.append(PatientInput(externalID: "KE-\(100_000 + i)", givenName: name(), familyName: name()))
        if batch.count == 10_000 { try store.addPatients(batch); batch.removeAll() }
    }
    if !batch.isEmpty { try store.addPatients(batch) }
}
let queries = (0..<200).map { i in i % 4 == 3 ? "KE-\(100_000 + i * 97)" : String(name().prefix(3 + i % 4)) }
var ftsTimes: [Double] = [], likeTimes: [Double] = []
var hits = 0
for q in queries { ftsTimes.append(try time { hits += try store.patients(search: q, limit: 100).count }) }
for q in queries { likeTimes.append(try time { _ = try store.patientsByScan(containing: q, limit: 100) }) }
print("patient list --search over \(count) patients (inserted in \(String(format: "%.1f", insertTime)) s with change log), \(queries.count) queries, \(hits) hits:")
print("  median \(ms(median(ftsTimes)))  p90 \(ms(percentile(ftsTimes, 0.9)))  target <= 20 ms  \(median(ftsTimes) <= 0.020 ? "MET" : "NOT MET")")
print("  baseline (LIKE scan): median \(ms(median(likeTimes)))  ratio scan/index \(String(format: "%.1f", median(likeTimes) / median(ftsTimes)))x")
