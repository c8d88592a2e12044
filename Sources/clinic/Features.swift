import ArgumentParser
import ClinicAudio
import ClinicCore
import Foundation

/// `clinic features FILE`: the signal features of one audio file (no store needed).
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Compute the signal-quality features of an audio file.",
        discussion: """
            The file is decoded and checked as on import, mixed down to mono, resampled to the \
            feature set's analysis rate (2000 Hz for qaqc-v1) and band-passed (20–720 Hz); see \
            docs/audio-front-end.md for each feature's definition. The store is not used.
            """
    )

    @Option(help: ArgumentHelp("The feature set (only qaqc-v1 for now).", valueName: "name"))
    var set = FeatureSet.qaqcV1.name
    @Argument(help: "The audio file.") var file: String
    @OptionGroup var output: JSONFlag

    static let sets = [FeatureSet.qaqcV1]

    func validate() throws {
        guard Self.sets.contains(where: { $0.name == set }) else {
            throw ValidationError("Unknown feature set. Known: \(Self.sets.map(\.name).joined(separator: ", ")).")
        }
    }

    /// What `--json` prints.
    struct Report: Encodable {
        var featureSet: String
        var analysisRate: Double
        var sampleRate: Int
        var channels: Int
        var duration: Double
        var features: [String: Double]

        enum CodingKeys: String, CodingKey {
            case featureSet = "feature_set", analysisRate = "analysis_rate", sampleRate = "sample_rate"
            case channels, duration, features
        }
    }

    /// The features; a problem with the input (too short, silent in the band) exits 3.
    static func compute(_ set: FeatureSet, _ audio: DecodedAudio) throws -> Features {
        do {
            return try set.compute(audio)
        } catch {
            if error.reason == .library { throw error }
            throw ClinicError(.invalidInput, error.message)
        }
    }

    func run() throws {
        let featureSet = Self.sets.first { $0.name == set }!
        let audio = try AudioReader.read(path: file)
        let features = try Self.compute(featureSet, audio)
        let duration = Double(audio.frames) / Double(audio.sampleRate)
        if output.json {
            try Output.json(Report(
                featureSet: features.featureSet, analysisRate: features.analysisRate, sampleRate: audio.sampleRate,
                channels: audio.channels, duration: duration,
                features: Dictionary(uniqueKeysWithValues: zip(features.names, features.values))))
            return
        }
        print("Feature set \(features.featureSet) at \(Int(features.analysisRate)) Hz "
              + String(format: "(%.2f s, %d Hz, %d channel(s))", duration, audio.sampleRate, audio.channels))
        for (name, value) in zip(features.names, features.values) {
            print(name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%.6g", value))
        }
    }
}
