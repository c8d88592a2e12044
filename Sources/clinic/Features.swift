import ArgumentParser
import ClinicAudio
import ClinicCore
import Foundation

/// `clinic features FILE` and `clinic features --manifest CSV --root DIR --out OUT.csv`:
/// the signal features of one audio file, or of every recording of a manifest (no store needed).
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Compute the signal features of an audio file, or of every file of a manifest.",
        discussion: """
            Each file is decoded and checked as on import, mixed down to mono, resampled to the \
            feature set's analysis rate (2000 Hz) and band-passed (20–720 Hz); see \
            docs/audio-front-end.md for each feature's definition. The store is not used.

            Batch mode (--manifest, --root, --out) reads a CSV with a `path` column (relative \
            to --root), as ../shared/data/manifest.csv, and writes one row per \
            manifest row: the manifest's own columns, `feature_set`, `error` (empty when the \
            file gave features; otherwise why not) and one column per feature. A file that \
            fails does not stop the batch. The output is written whole or not at all. Exit 0 \
            when at least one row gave features, 3 when none did.
            """
    )

    @Option(help: ArgumentHelp("The feature set: qaqc-v1 (signal quality) or assess-v1 (qaqc-v1 and the assessment models' features).", valueName: "name"))
    var set = FeatureSet.qaqcV1.name
    @Argument(help: "The audio file (single-file mode).") var file: String?
    @Option(help: ArgumentHelp("A manifest CSV with a `path` column (batch mode).", valueName: "csv"))
    var manifest: String?
    @Option(help: ArgumentHelp("The folder the manifest's paths are relative to (default: the manifest's folder).", valueName: "dir"))
    var root: String?
    @Option(help: ArgumentHelp("Where to write the features CSV (batch mode).", valueName: "csv"))
    var out: String?
    @Option(help: ArgumentHelp("Files processed at once in batch mode (default: the number of cores).", valueName: "n"))
    var jobs: Int?
    @Flag(help: "Batch mode, assess-v1: also the heart cycle's timing features (cycle.<name> columns, from the built-in segmenter; empty when it finds no cycle).")
    var cycle = false
    @Flag(name: .customLong("log-mel"), help: "With --json: add the log-mel patches ([patch][32 bands][96 frames] of dB, 3.07 s every 1.54 s).")
    var logMel = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard FeatureSet.all.contains(where: { $0.name == set }) else {
            throw ValidationError("Unknown feature set. Known: \(FeatureSet.all.map(\.name).joined(separator: ", ")).")
        }
        if manifest != nil || out != nil {
            guard file == nil else { throw ValidationError("Give either a FILE or --manifest with --out, not both.") }
            guard manifest != nil, out != nil else { throw ValidationError("Batch mode needs both --manifest CSV and --out CSV.") }
            guard !logMel else { throw ValidationError("--log-mel is for a single file with --json.") }
            guard !cycle || set == FeatureSet.assessV1.name else { throw ValidationError("--cycle needs --set assess-v1 (the segmenter reads its band-passed signal).") }
        } else {
            guard file != nil else { throw ValidationError("Give an audio FILE, or --manifest CSV --out CSV for a batch.") }
            guard root == nil, jobs == nil else { throw ValidationError("--root and --jobs are for batch mode (--manifest).") }
            guard !logMel || output.json else { throw ValidationError("--log-mel needs --json.") }
            guard !cycle else { throw ValidationError("--cycle is for batch mode (--manifest); clinic assess --json shows one file's cycle.") }
        }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
    }

    /// What `--json` prints for one file.
    struct Report: Encodable {
        var featureSet: String
        var analysisRate: Double
        var sampleRate: Int
        var channels: Int
        var duration: Double
        var features: [String: Double]
        var logMelPatches: [[[Double]]]?

        enum CodingKeys: String, CodingKey {
            case featureSet = "feature_set", analysisRate = "analysis_rate", sampleRate = "sample_rate"
            case channels, duration, features, logMelPatches = "log_mel_patches"
        }
    }

    /// The features of a file, decoded piece by piece; a problem with the input (not audio,
    /// too short, silent in the band) is invalid input (exit 3).
    static func analyze(_ set: FeatureSet, file: String) throws -> (analysis: FeatureAnalysis, audio: ResampledAudio) {
        do {
            return try set.analyze(file: file)
        } catch let error as AudioError {
            throw error.clinicError
        } catch let error as DSPError where error.reason != .library {
            throw ClinicError(.invalidInput, error.message)
        }
    }

    func run() throws {
        let featureSet = FeatureSet.all.first { $0.name == set }!
        if let manifest, let out {
            try FeatureBatch(set: featureSet, manifest: manifest, root: root, out: out,
                             jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount, json: output.json, cycle: cycle).run()
            return
        }
        let (analysis, audio) = try Self.analyze(featureSet, file: file!)
        let features = analysis.features
        let duration = audio.duration
        if output.json {
            let patches = logMel ? analysis.logMelPatches.map { p in
                (0..<p.rows).map { band in (0..<p.frames).map { p[band, $0] } }
            } : nil
            try Output.json(Report(
                featureSet: features.featureSet, analysisRate: features.analysisRate, sampleRate: audio.sourceRate,
                channels: audio.channels, duration: duration,
                features: Dictionary(uniqueKeysWithValues: zip(features.names, features.values)),
                logMelPatches: patches))
            return
        }
        print("Feature set \(features.featureSet) at \(Int(features.analysisRate)) Hz "
              + String(format: "(%.2f s, %d Hz, %d channel(s))", duration, audio.sourceRate, audio.channels))
        for (name, value) in zip(features.names, features.values) {
            print(name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%.6g", value))
        }
    }
}
