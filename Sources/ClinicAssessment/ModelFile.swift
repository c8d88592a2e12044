import ClinicAudio
import Foundation

/// A shipped model as stored in `Models/<task>.json` (format `clinic-model`; see
/// docs/assessment.md): inputs by name, imputation and standardisation, a logistic or
/// gradient-boosted-trees margin (version 1), or a small CNN on the log-mel patches (version 2,
/// `kind` "cnn"), trees packed in binary (version 3); Platt calibration, and the decision rules.
public struct ModelFile: Sendable, Decodable, Equatable {
    public var format: String
    public var formatVersion: Int
    public var task: String
    public var name: String
    public var version: String
    public var featureSet: String
    public var features: [String]
    public var impute: [Double]
    public var mean: [Double]
    public var scale: [Double]
    public var kind: Kind
    public var logistic: Logistic?
    public var gbdt: GBDT?
    public var cnn: CNN?
    public var platt: Platt
    public var threshold: Double
    public var positive: String
    public var negative: String
    /// Quality only: four increasing cut points on P(acceptable); the grade is how many are ≤ p.
    public var grades: [Double]?
    /// Optional: p in `[lo, hi)` is too close to call (murmur: "unknown").
    public var uncertain: [Double]?
    /// Murmur: whether a recording the quality model finds unacceptable is called unknown and
    /// left out of the patient's call (absent: true), as training chose the rule.
    public var qualityGate: Bool?
    public var card: String?

    public enum Kind: String, Sendable, Decodable { case logistic, gbdt, cnn }

    /// The format versions this build reads: 1 (logistic, gbdt), 2 (adds cnn), 3 (adds packed trees).
    public static let formatVersions = 1...3

    public struct Logistic: Sendable, Decodable, Equatable {
        public var coef: [Double]
        public var intercept: Double
    }

    public struct GBDT: Sendable, Decodable, Equatable {
        public var baseScore: Double
        public var trees: [Tree]
        enum CodingKeys: String, CodingKey { case baseScore = "base_score", trees }
    }

    /// A tree: `nodes` (version 1), or `packed` (version 3): base64 of 21 bytes a node, little
    /// endian: `f` int32 (-1: a leaf), `t` (a split) or `v` (a leaf) float64, `l` and `r` int32,
    /// `m` uint8 (1 left, 2 right, 0 for a leaf). Decoding 23,000 JSON numbers cost a one-shot
    /// `clinic assess` about 13 ms; a packed tree is one string.
    public struct Tree: Sendable, Decodable, Equatable {
        public var nodes: [Node]

        public init(nodes: [Node]) { self.nodes = nodes }

        enum CodingKeys: String, CodingKey { case nodes, packed }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            guard let packed = try c.decodeIfPresent(String.self, forKey: .packed) else {
                nodes = try c.decode([Node].self, forKey: .nodes)
                return
            }
            guard let raw = Data(base64Encoded: packed), raw.count % 21 == 0 else {
                throw DecodingError.dataCorruptedError(forKey: .packed, in: c, debugDescription: "a packed tree is not base64 of 21-byte nodes")
            }
            nodes = raw.withUnsafeBytes { b in
                stride(from: 0, to: b.count, by: 21).map { o in
                    let f = Int32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int32.self))
                    let x = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o + 4, as: UInt64.self)))
                    guard f >= 0 else { return Node(v: x) }
                    let m = b[o + 20]
                    return Node(f: Int(f), t: x, l: Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: o + 12, as: Int32.self))),
                                r: Int(Int32(littleEndian: b.loadUnaligned(fromByteOffset: o + 16, as: Int32.self))),
                                m: m == 1 ? "l" : m == 2 ? "r" : "?")
                }
            }
        }
    }

    /// A split (`f`, `t`, `l`, `r`, `m`: go left when `x[f] < t`; `m` where a missing value goes) or a leaf (`v`).
    public struct Node: Sendable, Decodable, Equatable {
        public var f: Int?
        public var t: Double?
        public var l: Int?
        public var r: Int?
        public var m: String?
        public var v: Double?

        public init(f: Int? = nil, t: Double? = nil, l: Int? = nil, r: Int? = nil, m: String? = nil, v: Double? = nil) {
            (self.f, self.t, self.l, self.r, self.m, self.v) = (f, t, l, r, m, v)
        }
    }

    /// A CNN on assess-v1's log-mel patches (`bands × frames` dB values, standardised per band
    /// with `band_mean` and `band_scale`): each `conv` layer is a `kernel × kernel` convolution
    /// with zero padding `kernel / 2` (batch norm folded into its weights and bias), ReLU and a
    /// 2 × 2 max pool; then the mean over the remaining positions, and `dense` to one logit.
    /// A recording's margin is the logit of the mean of its patches' sigmoids.
    public struct CNN: Sendable, Decodable, Equatable {
        public var bands: Int
        public var frames: Int
        public var bandMean: [Double]
        public var bandScale: [Double]
        public var conv: [Conv]
        public var dense: Dense
        enum CodingKeys: String, CodingKey { case bands, frames, bandMean = "band_mean", bandScale = "band_scale", conv, dense }
    }

    /// One convolution: `weight` is `[out][in][kernel][kernel]`, row-major (PyTorch's order).
    public struct Conv: Sendable, Decodable, Equatable {
        public var inChannels: Int
        public var outChannels: Int
        public var kernel: Int
        public var weight: [Double]
        public var bias: [Double]
        enum CodingKeys: String, CodingKey { case inChannels = "in", outChannels = "out", kernel, weight, bias }
    }

    public struct Dense: Sendable, Decodable, Equatable {
        public var weight: [Double]
        public var bias: Double
    }

    public struct Platt: Sendable, Decodable, Equatable {
        public var a: Double
        public var b: Double
    }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", task, name, version, featureSet = "feature_set", features, impute, mean, scale
        case kind, logistic, gbdt, cnn, platt, threshold, positive, negative, grades, uncertain, qualityGate = "quality_gate", card
    }
}

/// Why a model file cannot be used.
public struct ModelError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }

    /// A model file's JSON decoded as `type`, or why it is not a `format` file.
    static func decode<T: Decodable>(_ type: T.Type, _ json: Data, format: String) throws(ModelError) -> T {
        do { return try JSONDecoder().decode(type, from: json) } catch { throw ModelError("not a \(format) file: \(error)") }
    }
}

/// A model file checked once when loaded (every length, index and number), so evaluating it
/// cannot fail or loop.
public struct Model: Sendable {
    public let file: ModelFile
    /// The network of a `cnn` model, ready to run.
    let network: PatchNetwork?

    public init(json: Data) throws(ModelError) { try self.init(ModelError.decode(ModelFile.self, json, format: "clinic-model")) }

    public init(_ file: ModelFile) throws(ModelError) {
        var network: PatchNetwork? = nil
        guard file.format == "clinic-model", ModelFile.formatVersions.contains(file.formatVersion) else {
            throw ModelError("format \(file.format) version \(file.formatVersion) is not clinic-model version 1, 2 or 3 (a newer clinic reads it)")
        }
        let n = file.features.count
        guard n > 0 || file.kind == .cnn, file.impute.count == n, file.mean.count == n, file.scale.count == n else {
            throw ModelError("\(file.task): features, impute, mean and scale differ in length")
        }
        guard (file.impute + file.mean + file.scale + [file.platt.a, file.platt.b, file.threshold]).allSatisfy(\.isFinite),
              file.scale.allSatisfy({ $0 != 0 }) else {
            throw ModelError("\(file.task): a number is not finite, or a scale is zero")
        }
        switch file.kind {
        case .logistic:
            guard let l = file.logistic, l.coef.count == n, (l.coef + [l.intercept]).allSatisfy(\.isFinite) else {
                throw ModelError("\(file.task): the logistic coefficients do not match the features")
            }
        case .gbdt:
            guard let g = file.gbdt, !g.trees.isEmpty, g.baseScore.isFinite else { throw ModelError("\(file.task): no trees") }
            for tree in g.trees { try Self.check(tree, inputs: n, task: file.task) }
        case .cnn:
            guard file.formatVersion >= 2 else { throw ModelError("\(file.task): a cnn model needs format version 2") }
            guard let c = file.cnn else { throw ModelError("\(file.task): kind cnn without a cnn section") }
            network = try PatchNetwork(c, task: file.task)
        }
        if let grades = file.grades {
            guard grades.count == 4, zip(grades, grades.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw ModelError("\(file.task): grades must be four increasing cut points")
            }
        }
        if let u = file.uncertain {
            guard u.count == 2, u[0] <= u[1] else { throw ModelError("\(file.task): uncertain must be [lo, hi]") }
        }
        self.file = file
        self.network = network
    }

    /// Whether the model reads the log-mel patches (a cnn) rather than the scalar features.
    public var readsPatches: Bool { network != nil }

    /// Every split's children lie after it (so a walk ends), every index is in range, every leaf is finite.
    private static func check(_ tree: ModelFile.Tree, inputs: Int, task: String) throws(ModelError) {
        guard !tree.nodes.isEmpty else { throw ModelError("\(task): an empty tree") }
        for (i, node) in tree.nodes.enumerated() {
            if let v = node.v {
                guard v.isFinite, node.f == nil else { throw ModelError("\(task): a malformed leaf") }
                continue
            }
            guard let f = node.f, let t = node.t, let l = node.l, let r = node.r, (0..<inputs).contains(f), !t.isNaN,
                  l > i, r > i, l < tree.nodes.count, r < tree.nodes.count, node.m == nil || node.m == "l" || node.m == "r" else {
                throw ModelError("\(task): a malformed split at node \(i)")
            }
        }
    }

    /// The inputs after imputation (a missing or non-finite value takes the training median)
    /// and standardisation, in the file's order.
    public func inputs(_ value: (String) -> Double?) -> [Double] {
        file.features.indices.map { i in
            let x = value(file.features[i]).flatMap { $0.isFinite ? $0 : nil } ?? file.impute[i]
            return (x - file.mean[i]) / file.scale[i]
        }
    }

    /// The margin before calibration of a feature model (logistic, gbdt).
    public func margin(_ x: [Double]) -> Double {
        switch file.kind {
        case .cnn:
            preconditionFailure("a cnn model reads patches: margin(patches:)")
        case .logistic:
            let l = file.logistic!
            var z = l.intercept
            for i in x.indices { z += l.coef[i] * x[i] }
            return z
        case .gbdt:
            let g = file.gbdt!
            var z = g.baseScore
            for tree in g.trees {
                var i = 0
                while let f = tree.nodes[i].f {
                    let node = tree.nodes[i]
                    i = x[f] < node.t! ? node.l! : node.r!
                }
                z += tree.nodes[i].v!
            }
            return z
        }
    }

    /// A cnn model's margin on a recording's patches: the logit of the mean of the patches'
    /// sigmoids (clamped to [1e-7, 1 - 1e-7]); nil when there is no patch (a recording of 3.0 to
    /// 3.07 s) or the model reads features.
    public func margin(patches: [FrameMatrix]) -> Double? {
        guard let network, !patches.isEmpty else { return nil }
        let p = network.probabilities(patches)
        let mean = min(max(p.reduce(0, +) / Double(p.count), 1e-7), 1 - 1e-7)
        return log(mean / (1 - mean))
    }

    /// Each patch's sigmoid output before the mean (a cnn model; nil for a feature model).
    public func patchProbabilities(_ patches: [FrameMatrix]) -> [Double]? {
        network?.probabilities(patches)
    }

    /// The calibrated probability of the positive class from a margin.
    public func calibrated(_ z: Double) -> Double {
        1 / (1 + exp(-(file.platt.a * z + file.platt.b)))
    }

    /// The calibrated probability of the positive class of a feature model.
    public func probability(_ value: (String) -> Double?) -> Double {
        calibrated(margin(inputs(value)))
    }

    /// The calibrated probability from whichever input the model reads; nil when a cnn has no patch.
    public func probability(_ value: (String) -> Double?, patches: [FrameMatrix]) -> Double? {
        readsPatches ? margin(patches: patches).map(calibrated) : probability(value)
    }
}
