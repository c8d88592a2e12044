// clinic-audio-bench: the audio front end's speed and memory targets (issue 3), each beside a
// baseline measured in the same run (this machine is shared and noisy; ratios travel better).
//
//   swift build -c release --product clinic-audio-bench && swift build -c release --product clinic
//   (given both --product flags at once, SwiftPM builds only the last)
//   .build/release/clinic-audio-bench [--data ../shared/data] [--python python3] [--repeat 20]
//   [--features-only: stop after the in-process timings] [--profile N: only assess-v1, N rounds, for perf]
//   [--values FILE: write every input's assess-v1 values, to compare two builds]
//
// 1. qaqc-v1 in Swift vs the Python reference (Training/bench_reference.py: librosa/scipy/
//    python-soxr, warm, imports excluded) on the same 20-second 4 kHz recordings.
//    Target: Swift >= 40x faster. Beside it, the floor: the time of qaqc-v1's libsoxr and
//    FFTW calls alone (`FeatureSet.libraryCallsOnly`), which no implementation can beat.
// 2. The full feature set (assess-v1) of a decoded 20-second 4 kHz recording, one core.
//    Target: median <= 5 ms. Baseline: one STFT magnitude of the same signal.
// 3. A one-shot `clinic features FILE` process, wall time. Target: <= 50 ms. Baselines: a
//    process that does nothing (`clinic --version`) and a fresh Python process doing the same.
// 4. Peak memory (max RSS) of `clinic features` on a 120-second recording. Target: <= 50 MB.
//    Baseline: `clinic --version`'s max RSS.
// 5. The whole assessment (issue 12) of a 20-second recording file, one core: decode, features,
//    the heart-cycle segmenter, the three models (murmur reads the cycle) and the class models.
//    Target: median <= 10 ms with segmentation (issue 13), <= 5 ms without (issue 12); segmentation alone <= 10 ms. Baseline: assess-v1 of the decoded signal (2.).
//    And a one-shot `clinic assess FILE` process. Target: <= 50 ms. Baseline: `clinic --version`.
//    `--assessment-only` runs just these.
import ClinicAssessment
import ClinicAudio
import Foundation

func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
func percentile(_ xs: [Double], _ p: Double) -> Double { let s = xs.sorted(); return s[min(s.count - 1, Int(Double(s.count) * p))] }
func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }
func met(_ ok: Bool) -> String { ok ? "MET" : "NOT MET" }

/// CPU time of this thread (s): "on one core", and not inflated when another process takes the core.
func threadCPU() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Runs `body`, returning its thread CPU time in seconds.
func time(_ body: () throws -> Void) rethrows -> Double {
    let start = threadCPU()
    try body()
    return threadCPU() - start
}

/// Runs a program, returning its wall time (s), max RSS (KB), exit status and stdout.
func run(_ path: String, _ args: [String]) throws -> (wall: Double, maxRSSKB: Int, status: Int32, stdout: String) {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let out = FileManager.default.temporaryDirectory.appending(path: "bench-out-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let start = DispatchTime.now().uptimeNanoseconds
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
    }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    return (wall, usage.ru_maxrss, (status >> 8) & 0xff, text)
}

let work = FileManager.default.temporaryDirectory.appending(path: "clinic-audio-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }
let repeats = Int(argument("--repeat") ?? "20") ?? 20
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

// MARK: inputs: 20-second 4 kHz recordings (real BMD-HS ones when the data folder is there).
var inputs: [String] = []
let dataRoot = argument("--data") ?? "../shared/data"
var long: String?
if let manifest = try? String(contentsOfFile: dataRoot + "/manifest.csv", encoding: .utf8) {
    for line in manifest.split(whereSeparator: \.isNewline).dropFirst() where inputs.count < 10 || long == nil {  // CRLF line ends
        let cols = line.split(separator: ",", omittingEmptySubsequences: false)
        guard cols.count > 6, cols[1] == "bmd-hs", cols[5] == "4000", Double(cols[6]) ?? 0 >= 20 else { continue }
        let audio = try AudioReader.read(path: dataRoot + "/" + cols[0])
        if inputs.count < 10 {
            let out = work.appending(path: "in\(inputs.count).wav").path
            try AudioWriter.write(samples: Array(audio.samples.prefix(80_000)), sampleRate: 4_000, format: .wav16, to: out)
            inputs.append(out)
        } else if long == nil {
            // 120 s: the recording repeated (the longest the field accepts).
            var samples: [Double] = []
            while samples.count < 480_000 { samples += audio.samples }
            let out = work.appending(path: "long120.wav").path
            try AudioWriter.write(samples: Array(samples.prefix(480_000)), sampleRate: 4_000, format: .wav16, to: out)
            long = out
        }
    }
}
let source = inputs.isEmpty ? "synthetic (no data folder at \(dataRoot))" : "real BMD-HS recordings, cut to 20 s"
func synthetic(_ n: Int, seed: UInt64) -> [Double] {
    var seed = seed
    return (0..<n).map { i -> Double in
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        let noise = Double(Int64(bitPattern: seed >> 11) % 1000) / 20_000
        let t = Double(i) / 4000, phase = t.truncatingRemainder(dividingBy: 0.83)
        return noise + (phase < 0.1 ? 0.5 * exp(-phase * 40) * sin(2 * .pi * 50 * phase) : 0)
    }
}
while inputs.count < 10 {
    let out = work.appending(path: "in\(inputs.count).wav").path
    try AudioWriter.write(samples: synthetic(80_000, seed: UInt64(inputs.count + 1)), sampleRate: 4_000, format: .wav16, to: out)
    inputs.append(out)
}
if long == nil {
    let out = work.appending(path: "long120.wav").path
    try AudioWriter.write(samples: synthetic(480_000, seed: 99), sampleRate: 4_000, format: .wav16, to: out)
    long = out
}
print("inputs: \(inputs.count) x 20 s at 4 kHz, \(source); \(repeats) timed runs each (thread CPU time)")

// MARK: 1 + 2. feature sets in process, one core
let decoded = try inputs.map { Mixdown.mono(try AudioReader.read(path: $0)) }
// `--profile N`: only assess-v1 over the inputs, N times each, for `perf record`.
if let n = argument("--profile").flatMap(Int.init) {
    let t = try time { for _ in 0..<n { for x in decoded { _ = try FeatureSet.assessV1.compute(x, sampleRate: 4_000) } } }
    print("assess-v1: \(ms(t / Double(n * decoded.count))) a recording (mean of \(n * decoded.count))")
    exit(0)
}
// `--values FILE`: every input's assess-v1 features and log-mel values, one a line, to compare
// two builds' results after a change.
if let file = argument("--values") {
    var lines: [String] = []
    for x in decoded {
        let a = try FeatureSet.assessV1.analyze(x, sampleRate: 4_000)
        lines += zip(a.features.names, a.features.values).map { "\($0) \($1)" }
        lines += a.logMel.values.map { "logmel \($0)" }
    }
    try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
    exit(0)
}
var qaqc: [Double] = [], assess: [Double] = [], stft: [Double] = [], floor: [Double] = []
for x in decoded {
    _ = try FeatureSet.qaqcV1.compute(x, sampleRate: 4_000)  // warm-up (FFTW plans)
    _ = try FeatureSet.assessV1.compute(x, sampleRate: 4_000)
    let libraryCalls = try FeatureSet.qaqcV1.libraryCallsOnly(x, sampleRate: 4_000)
    var q: [Double] = [], a: [Double] = [], s: [Double] = [], f: [Double] = []
    for _ in 0..<repeats {
        q.append(try time { _ = try FeatureSet.qaqcV1.compute(x, sampleRate: 4_000) })
        a.append(try time { _ = try FeatureSet.assessV1.compute(x, sampleRate: 4_000) })
        s.append(time { _ = STFT.magnitude(x) })
        f.append(try time(libraryCalls))
    }
    qaqc.append(median(q)); assess.append(median(a)); stft.append(median(s)); floor.append(median(f))
}

/// Times each stage alone (after one warm-up run) and prints its median thread CPU time.
func printStages(_ title: String, _ stages: [(String, () throws -> Void)]) throws {
    print("\(title) stages on one recording (median of \(repeats), thread CPU):")
    for (name, body) in stages {
        try body()
        var t: [Double] = []
        for _ in 0..<repeats { t.append(try time(body)) }
        print("   \(name.padding(toLength: 56, withPad: " ", startingAt: 0)) \(ms(median(t)))")
    }
}

// Stage by stage on the first recording (each stage alone, on the previous stage's output).
do {
    let set = FeatureSet.qaqcV1, x4k = decoded[0]
    let x = try Resampler.resampleExtendingEdges(x4k, from: 4_000, to: set.analysisRate)
    let bp = try Butterworth.sos(order: set.bandpassOrder, .bandpass(set.band.lowerBound, set.band.upperBound), sampleRate: set.analysisRate)
    let y = try IIR.sosfiltfilt(bp, x)
    let power = STFT.power(y, config: set.stft)
    let bank = Mel.filterBank(sampleRate: set.analysisRate, fftLength: set.stft.fftLength, bands: set.melBands,
                              fmin: set.band.lowerBound, fmax: set.band.upperBound)
    let envelope = try Envelope.homomorphic(y, sampleRate: set.analysisRate), e50 = Stats.blockMeans(envelope, 40)
    let stages: [(String, () throws -> Void)] = [
        ("resample 4 kHz -> 2 kHz (libsoxr HQ)", { _ = try Resampler.resampleExtendingEdges(x4k, from: 4_000, to: set.analysisRate) }),
        ("band-pass sosfiltfilt", { _ = try IIR.sosfiltfilt(bp, x) }),
        ("Welch PSD", { _ = try Welch.psd(x, sampleRate: set.analysisRate, segmentLength: 256) }),
        ("homomorphic envelope", { _ = try Envelope.homomorphic(y, sampleRate: set.analysisRate) }),
        ("STFT power", { _ = STFT.power(y, config: set.stft) }),
        ("in-band magnitude, centroid/bandwidth/rolloff/flatness", {
            let all = set.stft.binFrequencies(sampleRate: set.analysisRate)
            let inBand = all.indices.filter { set.band.contains(all[$0]) }
            _ = SpectralFeatures.frames(power: power, rows: inBand.first!...inBand.last!, frequencies: inBand.map { all[$0] })
        }),
        ("zero-crossing rate", { _ = SpectralFeatures.zeroCrossingRate(y) }),
        ("mel, power_to_db, MFCC", { _ = Mel.dct(Mel.powerToDB(Mel.spectrogram(power, filterBank: bank)), count: set.mfccCount) }),
        ("assess-v1: 50 Hz envelope, periodicity", { _ = try FeatureSet.periodicity(Stats.blockMeans(envelope, 40), rate: 50) }),
        ("assess-v1: sample entropy", { _ = Stats.sampleEntropy(e50, tolerance: 0.2 * Stats.std(e50)) }),
    ]
    try printStages("qaqc-v1", stages)
}

// The segmenter stage by stage on the first recording (each stage alone, on the previous stage's output).
do {
    let segmenter = try Segmenter.shipped()
    let y = try FeatureSet.assessV1.analyze(file: inputs[0]).analysis.bandPassed
    let z = SpikeRemoval.apply(y, sampleRate: segmenter.file.analysisRate).output
    let (columns, envelope) = try segmenter.features(bandPassed: y)
    let (logB, post) = segmenter.emissions(columns)
    let cands = segmenter.candidates(try segmenter.autocorrelation(post))
    let tables = cands.map { segmenter.durationTable($0) }
    let stages: [(String, () throws -> Void)] = [
        ("spike removal", { _ = SpikeRemoval.apply(y, sampleRate: segmenter.file.analysisRate) }),
        ("one homomorphic envelope (of \(columns.count))", { _ = try Envelope.homomorphic(z, sampleRate: segmenter.file.analysisRate, cutoff: segmenter.file.frontEnd.homomorphicLpfHz) }),
        ("features: spike removal + \(columns.count) envelopes", { _ = try segmenter.features(bandPassed: y) }),
        ("emissions (softmax on the context window)", { _ = segmenter.emissions(columns) }),
        ("heart rate: autocorrelation, candidates", { _ = segmenter.candidates(try segmenter.autocorrelation(post)) }),
        ("duration tables (\(cands.count))", { _ = cands.map { segmenter.durationTable($0) } }),
        ("Viterbi decodes (\(cands.count))", { for t in tables { _ = Segmenter.viterbi(logB: logB, frames: envelope.count, logp: t.logp, logE: t.logE) } }),
        ("cycle band log power (\(Segmenter.cycleBands.count) bands)", { _ = try segmenter.bandLogPower(spikeRemoved: z, frames: envelope.count) }),
    ]
    try printStages("segmenter", stages)
}

// 5. The whole assessment from the file, one core.
let assessor = try Assessor.shipped()
var wholeAssessment: [Double] = [], modelsOnly: [Double] = [], networkOnly: [Double] = [], segmentationOnly: [Double] = []
let segmenter = try Segmenter.shipped()
for path in inputs {
    var t: [Double] = [], m: [Double] = [], n: [Double] = [], g: [Double] = []
    let analysis = try FeatureSet.assessV1.analyze(file: path).analysis
    let patches = assessor.murmur.readsPatches ? analysis.logMelPatches : []
    for _ in 0..<repeats {
        t.append(try time { _ = try assessor.assess(file: path, segment: true) })
        m.append(time { _ = assessor.assess(analysis.features, patches: patches, duration: 20) })
        n.append(time { _ = assessor.murmur.margin(patches: patches) })
        g.append(try time { _ = try segmenter.segment(bandPassed: analysis.bandPassed) })
    }
    wholeAssessment.append(median(t))
    modelsOnly.append(median(m))
    networkOnly.append(median(n))
    segmentationOnly.append(median(g))
}
/// Wall times of `clinic COMMAND FILE` over the inputs, each beside a `clinic --version` (the baseline).
@MainActor func oneShotTimes(_ clinic: String, _ command: String) throws -> (oneShot: [Double], idle: [Double]) {
    var oneShot: [Double] = [], idle: [Double] = []
    for i in 0..<repeats {
        let r = try run(clinic, [command, inputs[i % inputs.count]])
        guard r.status == 0 else { fatalError("clinic \(command) failed with exit \(r.status)") }
        oneShot.append(r.wall)
        idle.append(try run(clinic, ["--version"]).wall)
    }
    return (oneShot, idle)
}

/// Loading the models (every `clinic assess` process does it once), per file, wall time: the
/// repository's Models/*.json, which the binary embeds.
func modelLoadTimes() throws -> [(String, Double)] {
    var out: [(String, Double)] = []
    for task in Assessor.tasks {
        let json = try Data(contentsOf: URL(fileURLWithPath: "Models/\(task).json"))
        var t: [Double] = []
        for _ in 0..<5 { let s = DispatchTime.now().uptimeNanoseconds; _ = try Model(json: json); t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9) }
        out.append(("\(task) (\(json.count / 1000) KB)", median(t)))
    }
    var t: [Double] = []
    let segmentation = try Data(contentsOf: URL(fileURLWithPath: "Models/segmentation.json"))
    for _ in 0..<5 { let s = DispatchTime.now().uptimeNanoseconds; _ = try Segmenter(json: segmentation); t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9) }
    out.append(("segmentation", median(t)))
    return out
}

@MainActor func printAssessment() {
    print("\n5. the whole assessment of a 20-second 4 kHz file (decode, resample, assess-v1, the three models, the heart-cycle segmenter), one core")
    print("   median \(ms(median(wholeAssessment)))  p90 \(ms(percentile(wholeAssessment, 0.9)))  target <= 10 ms with segmentation (issue 13; <= 5 ms without, issue 12)  \(met(median(wholeAssessment) <= 0.010))")
    print("   segmentation alone (spike removal, 5 envelopes, emissions, heart rate, 3 Viterbi decodes): median \(ms(median(segmentationOnly)))  target <= 10 ms  \(met(median(segmentationOnly) <= 0.010));"
          + "  without it: about \(ms(median(wholeAssessment) - median(segmentationOnly))) (issue 12's <= 5 ms; the murmur model now reads the cycle, so the segmenter is part of every assessment)")
    print("   baseline (assess-v1 of the decoded signal, 2.): median \(ms(median(assess)))  ratio \(String(format: "%.2f", median(wholeAssessment) / median(assess)))x;"
          + "  the models alone: \(String(format: "%.1f", median(modelsOnly) * 1e6)) µs"
          + (median(networkOnly) > 2e-6 ? ", of which the murmur network on the recording's patches: \(String(format: "%.1f", median(networkOnly) * 1e6)) µs" : ""))
}
if CommandLine.arguments.contains("--assessment-only") {
    printAssessment()
    print("   loading the built-in models: " + (try modelLoadTimes()).map { "\($0.0) \(ms($0.1))" }.joined(separator: ", "))
    let clinic = binDir.appending(path: "clinic").path
    if FileManager.default.isExecutableFile(atPath: clinic) {
        let (oneShot, idle) = try oneShotTimes(clinic, "assess")
        print("   one-shot `clinic assess FILE` process: median \(ms(median(oneShot)))  p90 \(ms(percentile(oneShot, 0.9)))  target <= 50 ms  \(met(median(oneShot) <= 0.050))")
        print("   baseline (`clinic --version`): median \(ms(median(idle)))  assessment costs \(ms(median(oneShot) - median(idle))) over process start")
    }
    exit(0)
}

if CommandLine.arguments.contains("--features-only") {
    print("qaqc-v1 median \(ms(median(qaqc))), assess-v1 median \(ms(median(assess))), STFT median \(ms(median(stft))), library calls alone \(ms(median(floor)))")
    exit(0)
}

print("\n1. qaqc-v1, Swift vs the Python reference (per-recording medians, then the median over recordings)")
print("   Swift:  median \(ms(median(qaqc)))  p90 \(ms(percentile(qaqc, 0.9)))")
let python = argument("--python") ?? "python3"
// Found through PATH, like a shell would (the pinned packages may be in a pyenv or venv python).
let pythonPath = python.contains("/") ? python
    : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        .map { "\($0)/\(python)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
var pythonFresh: Double?
if let pythonPath {
    let script = repo.appending(path: "Training/bench_reference.py").path
    let result = try run(pythonPath, [script, "--repeat", String(repeats), "--fresh-process", inputs[0]] + inputs)
    struct Reference: Decodable {
        struct File: Decodable { var median_ms: Double }
        var files: [File]
        var fresh_process_seconds: Double?
        var librosa: String?
    }
    if result.status == 0, let ref = try? JSONDecoder().decode(Reference.self, from: Data(result.stdout.utf8)) {
        let py = median(ref.files.map { $0.median_ms / 1000 })
        pythonFresh = ref.fresh_process_seconds
        print("   Python (librosa \(ref.librosa ?? "?"), warm): median \(ms(py))")
        print("   ratio Python/Swift \(String(format: "%.1f", py / median(qaqc)))x  target >= 40x  \(met(py / median(qaqc) >= 40))")
        print("   floor: qaqc-v1's libsoxr and FFTW calls alone (resampling, the envelope's 2 transforms, the STFT's and Welch's")
        let m = FeatureSet.qaqcV1.stft.fftLength, n = 40_000  // 20 s at 2 kHz
        print("   \(FeatureSet.qaqcV1.stft.frameCount(n) + (n - m) / (m - m / 2) + 1) frame transforms, nothing else): median \(ms(median(floor)))"
              + "  ratio at most \(String(format: "%.1f", py / median(floor)))x for any code on these libraries")
    } else {
        print("   Python reference: failed (exit \(result.status)); install Training/requirements.txt")
    }
} else {
    print("   Python reference: skipped (no \(python) found)")
}

print("\n2. full feature set assess-v1 (\(FeatureSet.assessV1.featureNames.count) values + log-mel patches), one core")
print("   median \(ms(median(assess)))  p90 \(ms(percentile(assess, 0.9)))  target <= 5 ms  \(met(median(assess) <= 0.005))")
print("   baseline (one STFT magnitude at 4 kHz): median \(ms(median(stft)))  ratio \(String(format: "%.1f", median(assess) / median(stft)))x")
printAssessment()

// MARK: 3 + 4. the CLI as a process
let clinic = binDir.appending(path: "clinic").path
if FileManager.default.isExecutableFile(atPath: clinic) {
    let (oneShot, idle) = try oneShotTimes(clinic, "features")
    print("\n3. one-shot `clinic features FILE` process (20 s, 4 kHz)")
    print("   median \(ms(median(oneShot)))  p90 \(ms(percentile(oneShot, 0.9)))  target <= 50 ms  \(met(median(oneShot) <= 0.050))")
    print("   baseline (`clinic --version`): median \(ms(median(idle)))  features cost \(ms(median(oneShot) - median(idle))) over process start")
    if let pythonFresh {
        print("   fresh Python process doing the same: \(String(format: "%.2f", pythonFresh)) s  ratio \(String(format: "%.0f", pythonFresh / median(oneShot)))x")
    }

    // Peak memory through GNU time: a child of posix_spawn (vfork) inherits this process's
    // max RSS in its rusage, so wait4's figure would be this benchmark's size.
    print("\n4. peak memory (max RSS) of `clinic features --set assess-v1` on 120-second recordings")
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/time") {
        func peakKB(_ args: [String]) throws -> Int {
            let report = work.appending(path: "time.txt").path
            let r = try run("/usr/bin/time", ["-f", "%M", "-o", report, clinic] + args)
            guard r.status == 0 else { fatalError("clinic \(args.joined(separator: " ")) failed with exit \(r.status)") }
            return Int((try String(contentsOfFile: report, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let base = try peakKB(["--version"])
        // The same 120 s as 48 kHz stereo 24-bit (the largest a stethoscope writes): 92 MB decoded.
        let wide = work.appending(path: "long120-48k-stereo.wav").path
        let x = Mixdown.mono(try AudioReader.read(path: long!))
        let up = try Resampler.resample(x, from: 4_000, to: 48_000)
        try AudioWriter.write(samples: up.flatMap { [0.9 * $0, 0.9 * $0] }, sampleRate: 48_000, channels: 2, format: .wav24, to: wide)
        for (label, path) in [("4 kHz mono 16-bit", long!), ("48 kHz stereo 24-bit", wide)] {
            let kb = try peakKB(["features", "--set", "assess-v1", path])
            print("   \(label): \(kb / 1024) MB  target <= 50 MB  \(met(kb <= 50 * 1024))  (features add \((kb - base) / 1024) MB)")
        }
        print("   baseline (`clinic --version`): \(base / 1024) MB")
    } else {
        print("   skipped: /usr/bin/time is not installed (apt install time)")
    }
} else {
    print("\n3, 4: skipped (build the clinic product in release first: \(clinic) not found)")
}
