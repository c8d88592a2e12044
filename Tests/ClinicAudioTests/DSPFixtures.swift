@testable import ClinicAudio
import Foundation
import Testing

/// The reference fixtures in Tests/Fixtures/dsp (see Training/README.md): inputs, the
/// scipy/librosa outputs and the tolerances, read as plain JSON.
enum DSPFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "Fixtures/dsp")

    nonisolated(unsafe) static let index: [String: Any] = load("index.json")
    nonisolated(unsafe) static let filters: [String: Any] = load("filters.json")
    static var names: [String] { (index["fixtures"] as! [[String: Any]]).map { $0["name"] as! String } }
    static var twoKilohertzNames: [String] { names.filter { $0.hasPrefix("circor") } }

    static func load(_ file: String) -> [String: Any] {
        let data = try! Data(contentsOf: directory.appending(path: file))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// The Double tolerance of a stage from index.json.
    static func tolerance(_ stage: String) -> Tolerance {
        let t = ((index["tolerances"] as! [String: Any])[stage] as! [String: Any])["double"] as! [String: Any]
        return Tolerance(rtol: t["rtol"] as! Double, atol: t["atol"] as! Double)
    }
}

/// One fixture: its decoded input and its reference JSON.
struct DSPFixture {
    let name: String
    let json: [String: Any]
    let x: [Double]
    let sampleRate: Double

    init(_ name: String) throws {
        self.name = name
        json = DSPFixtures.load("\(name).json")
        let input = json["input"] as! [String: Any]
        let audio = try AudioReader.read(path: DSPFixtures.directory.appending(path: input["file"] as! String).path)
        x = Mixdown.mono(audio)
        sampleRate = Double(audio.sampleRate)
    }

    /// A nested object by path, e.g. `self["filters", "design", "bandpass"]`.
    subscript(_ path: String...) -> Any {
        var node: Any = json
        for key in path { node = (node as! [String: Any])[key]! }
        return node
    }

    func dict(_ path: String...) -> [String: Any] {
        var node: Any = json
        for key in path { node = (node as! [String: Any])[key]! }
        return node as! [String: Any]
    }
}

/// `|got - want| <= atol + rtol·|want|`.
struct Tolerance: CustomStringConvertible {
    var rtol: Double
    var atol: Double
    var description: String { "rtol \(rtol) atol \(atol)" }
}

/// Reference values of a stored 1-D array, as (index, value) pairs: every value for the
/// 'full' layout; head, tail and every 10th for 'summary'.
func referencePoints(_ array: [String: Any]) -> (n: Int, points: [(Int, Double)]) {
    let n = array["n"] as! Int
    if array["layout"] as! String == "full" {
        return (n, (array["values"] as! [Double]).enumerated().map { ($0.offset, $0.element) })
    }
    let head = (array["head"] as! [Double]).enumerated().map { ($0.offset, $0.element) }
    let tail = (array["tail"] as! [Double]).enumerated().map { (n - 50 + $0.offset, $0.element) }
    let strided = (array["strided"] as! [Double]).enumerated().map { ($0.offset * 10, $0.element) }
    return (n, head + tail + strided)
}

/// The worst errors of one comparison, printed so that parity numbers can be reported.
struct ParityReport {
    var maxAbs = 0.0
    var maxRel = 0.0
    var failures = 0
    var count = 0
    var firstFailure: String?

    mutating func check(_ got: Double, _ want: Double, _ tol: Tolerance, at index: String) {
        let err = abs(got - want)
        count += 1
        maxAbs = max(maxAbs, err)
        if want != 0 { maxRel = max(maxRel, err / abs(want)) }
        if !(err <= tol.atol + tol.rtol * abs(want)) {
            failures += 1
            if firstFailure == nil { firstFailure = "\(index): got \(got), want \(want)" }
        }
    }

    func expectPass(_ label: String, _ tol: Tolerance, sourceLocation: SourceLocation = #_sourceLocation) {
        print("parity \(label): \(count) values, max abs err \(maxAbs), max rel err \(maxRel) (\(tol))")
        #expect(count > 0, "\(label): nothing compared", sourceLocation: sourceLocation)
        #expect(failures == 0, "\(label): \(failures) of \(count) values out of tolerance; first \(firstFailure ?? "")",
                sourceLocation: sourceLocation)
    }
}

/// Compares a whole 1-D Swift output with a stored reference array (length exact).
func expectParity(
    _ got: [Double], _ reference: [String: Any], _ tol: Tolerance, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let (n, points) = referencePoints(reference)
    #expect(got.count == n, "\(label): length \(got.count), want \(n)", sourceLocation: sourceLocation)
    guard got.count == n else { return }
    var report = ParityReport()
    for (i, want) in points { report.check(got[i], want, tol, at: "[\(i)]") }
    report.expectPass(label, tol, sourceLocation: sourceLocation)
}

/// Compares a Swift matrix with a stored 'frames' reference (every stored column, every row).
func expectParity(
    _ got: FrameMatrix, _ reference: [String: Any], _ tol: Tolerance, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let rows = reference["n_rows"] as! Int, frames = reference["n_frames"] as! Int
    #expect(got.rows == rows && got.frames == frames, "\(label): shape \(got.rows)×\(got.frames), want \(rows)×\(frames)",
            sourceLocation: sourceLocation)
    guard got.rows == rows && got.frames == frames else { return }
    var report = ParityReport()
    let indices = reference["frame_indices"] as! [Int], columns = reference["frames"] as! [[Double]]
    for (t, column) in zip(indices, columns) {
        for (r, want) in column.enumerated() { report.check(got[r, t], want, tol, at: "[\(r), frame \(t)]") }
    }
    report.expectPass(label, tol, sourceLocation: sourceLocation)
}
