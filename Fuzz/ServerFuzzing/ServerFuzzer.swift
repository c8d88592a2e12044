import ClinicCore
import ClinicServer
import ClinicSync
import Foundation

/// Seeded mutation fuzzing of the server's network-facing readers (`RequestReaders`): push
/// bodies, the `Range` header and the blob and feed query parameters, with what the push path
/// does next (`EntityRules`, `MergeRules`). Run for a bounded number of cases by the test
/// suite (ServerFuzzTests) and for as long as you like by `clinic-server-fuzz`.
///
/// Each case must keep these properties; a case that breaks one is reported with its input:
/// - a push body PushBody reads is one JSONDecoder reads to the same request (PushBody is never
///   laxer), and what JSONEncoder writes of it reads back the same;
/// - every message a reader or a rule gives is short and holds no control or format character;
/// - a range lies inside the blob and is not empty, and a plain `bytes=a-b` is `a..<min(b+1, size)`;
/// - a query integer is accepted exactly when it is plain decimal digits of a value in range.
/// A crash or hang is found by the process dying or stalling: `clinic-server-fuzz` writes each
/// input to a file before running it.
public struct ServerFuzzer {
    public struct Report: Sendable {
        public var cases = 0
        public var bodiesRead = 0
        public var bodiesRefused = 0
        public var rangesSatisfied = 0
        public var integersAccepted = 0
        public var failures: [String] = []

        public init() {}

        public mutating func add(_ other: Report) {
            cases += other.cases
            bodiesRead += other.bodiesRead
            bodiesRefused += other.bodiesRefused
            rangesSatisfied += other.rangesSatisfied
            integersAccepted += other.integersAccepted
            failures += other.failures
        }
    }

    /// What a case is about to run, given before it runs (so a crash leaves it behind).
    public enum Input: Sendable {
        case pushBody([UInt8])
        case range(String, size: Int64)
        case query(String)
    }

    private var state: UInt64

    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func next(_ n: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int(truncatingIfNeeded: state >> 33) % max(n, 1)
    }

    mutating func pick<T>(_ items: [T]) -> T { items[next(items.count)] }

    /// Runs `iterations` cases, calling `before` with each input first.
    public mutating func run(iterations: Int, before: (Input) -> Void = { _ in }) -> Report {
        var report = Report()
        for i in 0..<iterations {
            report.cases += 1
            switch i % 4 {
            case 0, 1:
                let body = mutatedBody()
                before(.pushBody(body))
                checkPushBody(body, &report)
            case 2:
                let (header, size) = rangeCase()
                before(.range(header, size: size))
                checkRange(header, size: size, &report)
            default:
                let text = queryCase()
                before(.query(text))
                checkQuery(text, &report)
            }
        }
        return report
    }

    // MARK: Push bodies

    static let tokens: [String] = [
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-1", "0", "1e308", "1e309", "-0", "0.5", "05",
        "null", "true", "false", "\"\"", "{}", "[]", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\u001b[2J\"", "\"\u{202E}\"",
        "\"A\(String(repeating: "\u{0301}", count: 300))\"", "\"9999999999999999-99999\"", "\"0000000000000000-00000\"",
        "\"+001763779515123-00000\"", "\"6B1E0F66-2A53-4C58-9D8E-2A0A6F1C9E01\"", "\"{6b1e0f66-2a53-4c58-9d8e-2a0a6f1c9e01}\"",
        String(repeating: "[", count: 600), "\"\u{FEFF}\"", ",", ":", "\"patient\"", "\"recording\"", "\"assessment\"", "\"delete\"",
    ]
    static let fieldNames = ["id", "given_name", "family_name", "external_id", "notes", "sex", "birth_date", "deleted", "created_at",
                             "updated_at", "patient_id", "audio_sha256", "duration", "result", "x\u{1B}", "Given_Name", ""]

    mutating func uuid() -> String {
        let hex = Array("0123456789abcdef")
        var s = ""
        for i in 0..<32 {
            if [8, 12, 16, 20].contains(i) { s += "-" }
            s.append(hex[next(16)])
        }
        return s
    }

    mutating func fieldValue() -> String {
        pick(["\"Amina\"", "\"O'Brien\"", "\"2019-03-04\"", "\"female\"", "0", "1", "2.5", "null", "\"2026-11-22T10:00:00.000Z\"",
              "\"\(String(repeating: "a", count: 64))\"", "\"\(uuid())\"", pick(Self.tokens)])
    }

    /// A push body that is valid JSON of the right shape, before mutation.
    mutating func validBody() -> String {
        let entries = (0..<(1 + next(3))).map { _ -> String in
            let id = uuid()
            var fields = ["\"id\":\"\(id)\""]
            for _ in 0..<next(6) { fields.append("\"\(pick(Self.fieldNames))\":\(fieldValue())") }
            let base = next(3) == 0 ? ",\"base\":{\"given_name\":\"0001795000000000-00001@\(uuid())\"}" : ""
            return "{\"seq\":\(1 + next(1000)),\"change_id\":\"\(uuid())\",\"entity\":\"\(pick(["patient", "recording", "assessment"]))\","
                + "\"entity_id\":\"\(id)\",\"op\":\"\(pick(["insert", "update", "delete"]))\",\"fields\":{\(fields.joined(separator: ","))},"
                + "\"hlc\":\"000179500000\(String(format: "%04d", next(10_000)))-0000\(next(10))\",\"device_id\":\"\(uuid())\"\(base)}"
        }
        return "{\"changes\":[\(entries.joined(separator: ","))]}"
    }

    mutating func mutatedBody() -> [UInt8] {
        var bytes = Array(validBody().utf8)
        for _ in 0..<next(4) where !bytes.isEmpty {
            let at = next(bytes.count)
            switch next(6) {
            case 0: bytes.remove(at: at)
            case 1: bytes[at] = UInt8(next(256))
            case 2: bytes.insert(contentsOf: Array(pick(Self.tokens).utf8), at: at)
            case 3:
                // Replace a value-looking stretch with a token.
                let end = min(bytes.count, at + 1 + next(12))
                bytes.replaceSubrange(at..<end, with: Array(pick(Self.tokens).utf8))
            case 4:
                let end = min(bytes.count, at + 1 + next(40))
                bytes.insert(contentsOf: bytes[at..<end], at: at)
            default: bytes = Array(bytes.prefix(at))
            }
        }
        return bytes
    }

    static func isClean(_ message: String) -> Bool {
        message.utf8.count <= 400 && message.unicodeScalars.allSatisfy { s in
            switch s.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: false
            default: true
            }
        }
    }

    static func show(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(600), as: UTF8.self)
        return text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "\\" ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    }

    mutating func checkPushBody(_ bytes: [UInt8], _ report: inout Report) {
        switch RequestReaders.pushBody(bytes) {
        case .failure(let refusal):
            report.bodiesRefused += 1
            if !Self.isClean(refusal.message) { report.failures.append("push body: unclean message for \(Self.show(bytes))") }
        case .success(let request):
            report.bodiesRead += 1
            guard let reference = try? JSONDecoder().decode(PushRequest.self, from: Data(bytes)), reference == request else {
                report.failures.append("push body: PushBody read what JSONDecoder does not (or differently): \(Self.show(bytes))")
                return
            }
            if let again = try? JSONEncoder().encode(request), case .success(let back) = RequestReaders.pushBody(Array(again)), back == request {
            } else {
                report.failures.append("push body: does not read back what JSONEncoder writes of it: \(Self.show(bytes))")
            }
            for entry in request.changes {
                if let problem = EntityRules.problem(with: entry.change), !Self.isClean(problem) {
                    report.failures.append("push body: unclean rejection reason for \(Self.show(bytes))")
                }
                // Merging into nothing and into itself must answer (apply or reject), never trap.
                if let first = try? MergeRules.merge(entry, into: nil) { _ = try? MergeRules.merge(entry, into: first.state) }
            }
        }
    }

    // MARK: Range headers

    mutating func number() -> String {
        pick(["0", "1", "5", "9", "199", "65535", "9223372036854775806", "9223372036854775807", "9223372036854775808",
              "18446744073709551616", "99999999999999999999999", "+5", "-5", " 5", "5 ", "٥", "0x10", "1e3", "", "00000000000000000000000001",
              String(next(1_000_000))])
    }

    mutating func rangeCase() -> (String, Int64) {
        let size = pick([Int64(1), 2, 10, 150_000, 1 << 30, Int64.max - 1, Int64.max, Int64(next(1_000_000) + 1)])
        let unit = pick(["bytes=", "bytes=", "bytes=", "Bytes=", "bytes =", "items=", ""])
        let spec: String
        switch next(5) {
        case 0: spec = "\(number())-\(number())"
        case 1: spec = "\(number())-"
        case 2: spec = "-\(number())"
        case 3: spec = "\(number())-\(number()),\(number())-\(number())"
        default: spec = "\(number())-\(number())-\(number())"
        }
        return (unit + spec, size)
    }

    mutating func checkRange(_ header: String, size: Int64, _ report: inout Report) {
        let r = RequestReaders.range(header, size: size)
        if let r {
            report.rangesSatisfied += 1
            if r.lowerBound < 0 || r.upperBound > size || r.isEmpty {
                report.failures.append("range: \(header) on \(size) gave \(r), outside the blob or empty")
            }
        }
        // The plain form against a reference in wider arithmetic.
        let parts = header.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0] == "bytes" else { return }
        let ends = parts[1].split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let a = Self.plain(ends[0]), let b = Self.plain(ends[1]) else { return }
        let expected: Range<Int64>? = a < Decimal(size) && b >= a
            ? Int64(truncating: NSDecimalNumber(decimal: a))..<(b >= Decimal(size) ? size : Int64(truncating: NSDecimalNumber(decimal: b)) + 1)
            : nil
        if r != expected { report.failures.append("range: \(header) on \(size) gave \(String(describing: r)), expected \(String(describing: expected))") }
    }

    /// Plain decimal digits as an exact Decimal (leading zeros dropped; at most 30 significant digits), else nil.
    static func plain(_ text: Substring) -> Decimal? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        let significant = text.drop { $0 == "0" }
        guard significant.count <= 30 else { return nil }
        return significant.isEmpty ? 0 : Decimal(string: String(significant))
    }

    // MARK: Query parameters

    mutating func queryCase() -> String {
        switch next(3) {
        case 0: number()
        case 1: number() + pick(["", "&", "%00", "\u{0}", "\u{1B}", "e", "."]) + number()
        default: String(repeating: pick(["0", "9"]), count: next(25))
        }
    }

    mutating func checkQuery(_ text: String, _ report: inout Report) {
        let range: ClosedRange<Int64> = pick([0...Int64.max, 1...1_000, 0...(1 << 30), 1...(1 << 30)])
        let result = RequestReaders.queryInteger(text, name: "after", default: 0, range: range)
        let value = Self.plain(Substring(text))
        let shouldAccept = value.map { $0 >= Decimal(range.lowerBound) && $0 <= Decimal(range.upperBound) } ?? false
        switch result {
        case .success(let n):
            report.integersAccepted += 1
            if !shouldAccept || Decimal(n) != value {
                report.failures.append("query: \(Self.show(Array(text.utf8))) in \(range) accepted as \(n)")
            }
        case .failure(let refusal):
            if shouldAccept { report.failures.append("query: \(Self.show(Array(text.utf8))) in \(range) refused") }
            if !Self.isClean(refusal.message) { report.failures.append("query: unclean message") }
        }
    }
}
