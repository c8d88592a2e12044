// clinic-audio-fuzz: seeded random-mutation fuzzing of the decoder and the feature code.
//
//   swift build -c release --product clinic-audio-fuzz
//   .build/release/clinic-audio-fuzz [--iterations 20000] [--seed 1] [--corpus Tests/Fixtures/fuzz]
//
// Valid seed files (WAV PCM 8/16/24-bit, float, stereo, 48 kHz, FLAC, AIFF, a real FLAC) are
// mutated (bit flips, interesting bytes, header fields rewritten, truncation, insertion,
// deletion, splicing) and each mutant goes through `FeatureSet.analyze(file:)` for every
// feature set. Each must give finite features or a typed error (AudioError or DSPError);
// anything else is a bug. Before each run the input is written to `<corpus>/crash-pending.bin`;
// if the process dies, that file is the crashing input: rename it into the corpus, where
// `FeatureFuzzTests.fuzzCorpusNeverCrashes` replays every file on each `swift test`. A
// mutant that takes over 2 s is saved as `slow-<n>.bin` for the same reason, and the first
// small (<= 16 KB) mutant of each distinct outcome as `outcome-<qaqc>-<assess>.bin`.
import ClinicAudio
import Foundation

func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

let iterations = Int(argument("--iterations") ?? "20000") ?? 20_000
var state = UInt64(argument("--seed") ?? "1") ?? 1
let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let corpus = URL(fileURLWithPath: argument("--corpus") ?? repo.appending(path: "Tests/Fixtures/fuzz").path)
try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
let work = FileManager.default.temporaryDirectory.appending(path: "clinic-fuzz-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

@MainActor func next(_ n: Int) -> Int {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    return Int(state >> 33) % max(n, 1)
}

func heart(seconds: Double, rate: Int) -> [Double] {
    (0..<Int(seconds * Double(rate))).map { i in
        let t = Double(i) / Double(rate), u = t.truncatingRemainder(dividingBy: 0.8)
        return (u < 0.1 ? 0.6 * exp(-u * 40) * sin(2 * .pi * 50 * u) : 0) + 0.01 * sin(Double(i) * 1.7)
    }
}

// MARK: seeds
var seeds: [[UInt8]] = []
for (name, rate, channels, format) in [
    ("pcm16.wav", 4_000, 1, AudioFileFormat.wav16), ("pcm8.wav", 2_000, 1, .wav8), ("pcm24-48k-stereo.wav", 48_000, 2, .wav24),
    ("float.wav", 8_000, 2, .wavFloat), ("flac16.flac", 4_000, 1, .flac16), ("aiff.aiff", 4_000, 1, .aiff16),
] {
    let path = work.appending(path: name).path
    let x = heart(seconds: rate >= 48_000 ? 3.2 : 4, rate: rate)
    try AudioWriter.write(samples: channels == 2 ? x.flatMap { [$0, -0.5 * $0] } : x, sampleRate: rate, channels: channels, format: format, to: path)
    seeds.append([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
}
for sample in ["physionet2016_b0001.flac"] {
    if let data = try? Data(contentsOf: repo.appending(path: "Samples/\(sample)")) { seeds.append([UInt8](data)) }
}

// MARK: mutations
let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0xFE]
let interesting32: [UInt32] = [0, 1, 2, 3, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 44_100, 48_000, 1_000_000, 192_001]

@MainActor func mutate(_ input: [UInt8]) -> [UInt8] {
    var b = input
    for _ in 0..<(1 + next(4)) {
        guard !b.isEmpty else { return b }
        let headerBiased = next(3) > 0 ? next(min(b.count, 128)) : next(b.count)
        switch next(9) {
        case 0: b[headerBiased] ^= UInt8(1 << next(8))
        case 1: b[headerBiased] = interesting[next(interesting.count)]
        case 2:  // a 32-bit header field (size, rate, byte rate) rewritten
            let at = next(max(1, min(b.count, 64) - 4))
            if at + 4 <= b.count { withUnsafeBytes(of: interesting32[next(interesting32.count)].littleEndian) { for (i, v) in $0.enumerated() { b[at + i] = v } } }
        case 3:  // a 16-bit header field (format, channels, bits)
            let at = next(max(1, min(b.count, 48) - 2))
            if at + 2 <= b.count { b[at] = UInt8(next(256)); b[at + 1] = next(4) == 0 ? 0xFF : 0 }
        case 4: b = Array(b.prefix(next(b.count)))
        case 5: b.insert(contentsOf: (0..<(1 + next(64))).map { _ in UInt8(next(256)) }, at: next(b.count))
        case 6: let at = next(b.count); b.removeSubrange(at..<min(b.count, at + 1 + next(256)))
        case 7:  // splice another seed's tail
            let other = seeds[next(seeds.count)]
            b = Array(b.prefix(next(b.count))) + Array(other.suffix(from: next(other.count)))
        default:  // a run of random bytes in the body
            let at = next(b.count)
            for i in at..<min(b.count, at + 1 + next(512)) { b[i] = UInt8(next(256)) }
        }
    }
    return b
}

// MARK: run
let pending = corpus.appending(path: "crash-pending.bin")
let input = work.appending(path: "input.bin").path
var accepted = 0, refused: [String: Int] = [:], slow = 0
let started = Date()
for i in 0..<iterations {
    let bytes = mutate(seeds[i % seeds.count])
    try Data(bytes).write(to: pending)
    try Data(bytes).write(to: URL(fileURLWithPath: input))
    let t0 = Date()
    var outcome: [String] = []
    for set in FeatureSet.all {
        do {
            let features = try set.analyze(file: input).analysis.features
            guard features.values.allSatisfy(\.isFinite) else { fatalError("non-finite features for input \(i)") }
            accepted += 1
            outcome.append("features")
        } catch let error as AudioError {
            refused["audio." + error.reason.rawValue, default: 0] += 1
            outcome.append(error.reason.rawValue)
        } catch let error as DSPError {
            refused["dsp." + error.reason.rawValue, default: 0] += 1
            outcome.append(error.reason.rawValue)
        } catch {
            fatalError("untyped error \(error) for input \(i)")
        }
    }
    // Keep one small mutant per distinct outcome as a regression input.
    let name = "outcome-" + outcome.joined(separator: "-") + ".bin"
    if bytes.count <= 16_384, !FileManager.default.fileExists(atPath: corpus.appending(path: name).path) {
        try Data(bytes).write(to: corpus.appending(path: name))
    }
    if Date().timeIntervalSince(t0) > 2 {
        slow += 1
        try Data(bytes).write(to: corpus.appending(path: "slow-\(i).bin"))
    }
    if (i + 1) % 1000 == 0 {
        FileHandle.standardError.write(Data("\(i + 1)/\(iterations) inputs, \(String(format: "%.0f", Date().timeIntervalSince(started))) s\n".utf8))
    }
}
try? FileManager.default.removeItem(at: pending)
print("\(iterations) mutants x \(FeatureSet.all.count) feature sets in \(String(format: "%.0f", Date().timeIntervalSince(started))) s: "
      + "\(accepted) analyses gave finite features, \(refused.values.reduce(0, +)) typed refusals, \(slow) slow (> 2 s), 0 crashes")
for (reason, count) in refused.sorted(by: { $0.key < $1.key }) { print("  \(reason): \(count)") }
