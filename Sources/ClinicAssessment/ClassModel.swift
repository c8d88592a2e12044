import Foundation

/// A shipped class model as stored in `Models/valve.json` and `Models/heart_sound.json` (format
/// `clinic-classes`, docs/classifiers.md): named inputs (assess-v1 features, `p_murmur`, the
/// heart cycle's `cycle.<name>`), imputation, standardisation clipped to ±`clip`, one linear
/// logit per class, then a sigmoid per class (multi-label: valve) or one softmax (heart_sound).
public struct ClassModelFile: Sendable, Decodable, Equatable {
    public var format: String
    public var formatVersion: Int
    public var task: String
    public var name: String
    public var version: String
    public var featureSet: String
    public var inputs: [String]
    public var impute: [Double]
    public var mean: [Double]
    public var scale: [Double]
    public var clip: Double
    public var output: Output
    public var classes: [String]
    /// `[class][input]`.
    public var coef: [[Double]]
    public var intercept: [Double]
    /// Sigmoid only: a class is called when its probability reaches its threshold.
    public var thresholds: [Double]?
    /// Sigmoid only: the label when no class is called (valve: `N`).
    public var none: String?
    public var card: String?

    public enum Output: String, Sendable, Decodable { case sigmoid, softmax }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", task, name, version, featureSet = "feature_set", inputs, impute, mean, scale, clip
        case output, classes, coef, intercept, thresholds, none, card
    }
}

/// A class model file checked once when loaded (every length and number), so evaluating it cannot fail.
public struct ClassModel: Sendable {
    public let file: ClassModelFile

    /// The input naming the murmur model's probability.
    public static let murmurInput = "p_murmur"
    /// The prefix of inputs naming a cycle-timing feature (`Segmenter.cycleFeatureNames`).
    public static let cyclePrefix = "cycle."

    public init(json: Data) throws(ModelError) { try self.init(ModelError.decode(ClassModelFile.self, json, format: "clinic-classes")) }

    public init(_ file: ClassModelFile) throws(ModelError) {
        guard file.format == "clinic-classes", file.formatVersion == 1 else {
            throw ModelError("format \(file.format) version \(file.formatVersion) is not clinic-classes version 1 (a newer clinic reads it)")
        }
        let n = file.inputs.count, k = file.classes.count
        guard n > 0, file.impute.count == n, file.mean.count == n, file.scale.count == n else {
            throw ModelError("\(file.task): inputs, impute, mean and scale differ in length")
        }
        guard k >= 2 || file.output == .sigmoid, k >= 1, Set(file.classes).count == k, file.intercept.count == k,
              file.coef.count == k, file.coef.allSatisfy({ $0.count == n }) else {
            throw ModelError("\(file.task): the coefficients do not match the inputs and classes")
        }
        let numbers = file.impute + file.mean + file.scale + file.intercept + file.coef.flatMap { $0 } + [file.clip]
        guard numbers.allSatisfy(\.isFinite), file.scale.allSatisfy({ $0 != 0 }), file.clip > 0 else {
            throw ModelError("\(file.task): a number is not finite, a scale is zero or the clip is not positive")
        }
        if file.output == .sigmoid {
            guard let t = file.thresholds, t.count == k, t.allSatisfy({ $0 > 0 && $0 < 1 }), file.none != nil else {
                throw ModelError("\(file.task): a sigmoid model needs a threshold in (0, 1) per class and a `none` label")
            }
        }
        self.file = file
    }

    /// The probability of each class (`file.classes`' order); a missing or non-finite input takes the training median.
    public func probabilities(_ value: (String) -> Double?) -> [Double] {
        let f = file
        let z = f.inputs.indices.map { i in
            let x = value(f.inputs[i]).flatMap { $0.isFinite ? $0 : nil } ?? f.impute[i]
            return min(max((x - f.mean[i]) / f.scale[i], -f.clip), f.clip)
        }
        let logits = f.classes.indices.map { c in zip(f.coef[c], z).reduce(f.intercept[c]) { $0 + $1.0 * $1.1 } }
        switch f.output {
        case .sigmoid:
            return logits.map { 1 / (1 + exp(-$0)) }
        case .softmax:
            let top = logits.max()!
            let e = logits.map { exp($0 - top) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
    }

    /// The classes called: those at or above their threshold (sigmoid), or the most probable (softmax).
    public func called(_ p: [Double]) -> [String] {
        switch file.output {
        case .sigmoid:
            return file.classes.indices.filter { p[$0] >= file.thresholds![$0] }.map { file.classes[$0] }
        case .softmax:
            return [file.classes[p.indices.max { p[$0] < p[$1] }!]]
        }
    }
}
