import ClinicAssessment
import ClinicAudio
import ClinicCore
import Foundation
import Synchronization

/// `clinic features --manifest CSV --root DIR --out OUT.csv`: the features of every recording
/// of a manifest, `jobs` files at a time, with a progress bar on a terminal. A file that fails
/// gets its reason in the `error` column and the batch goes on; the output is written to a
/// temporary file beside OUT and renamed over it only when complete.
struct FeatureBatch {
    var set: FeatureSet
    var manifest: String
    var root: String?
    var out: String
    var jobs: Int
    var json: Bool
    /// Also the heart cycle's timing features (`cycle.<name>`, Segmenter.cycleFeatureNames) of
    /// the built-in segmenter; empty cells when it finds no cycle.
    var cycle = false

    /// What `--json` prints at the end.
    struct Summary: Encodable {
        var featureSet: String
        var rows: Int
        var succeeded: Int
        var failed: Int
        var seconds: Double
        var out: String
        /// Failure messages and how many rows gave each.
        var failures: [String: Int]

        enum CodingKeys: String, CodingKey {
            case featureSet = "feature_set", rows, succeeded, failed, seconds, out, failures
        }
    }

    func run() throws {
        Clinic.keepBuffers()
        let manifest = try Manifest(self.manifest, root: root)
        let (header, rows, pathColumn, rootURL) = (manifest.header, manifest.rows, manifest.pathColumn, manifest.root)
        let outURL = URL(fileURLWithPath: out)
        let featureSet = set
        let segmenter = cycle ? try Segmenter.shipped() : nil
        let cycleNames = cycle ? Segmenter.cycleFeatureNames : []
        let progress = Progress(total: rows.count, show: !json)
        let started = DispatchTime.now().uptimeNanoseconds

        // Each worker takes the next row; each row's result is written by exactly one worker.
        let next = Atomic<Int>(0)
        let results = Mutex<[Int: Result<[Double?], RowError>]>([:])
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, rows.count))) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < rows.count else { return }
                let result = Self.features(of: rows[i], pathColumn: pathColumn, root: rootURL, set: featureSet, segmenter: segmenter)
                results.withLock { $0[i] = result }
                progress.advance(failed: (try? result.get()) == nil)
            }
        }
        progress.finish()
        let byRow = results.withLock { $0 }

        // The output: the manifest's columns, feature_set, error, then the features.
        let columns = featureSet.featureNames + cycleNames.map { "cycle." + $0 }
        var lines = [CSV.line(header + ["feature_set", "error"] + columns)]
        var failures: [String: Int] = [:]
        for (i, row) in rows.enumerated() {
            let padded = row + Array(repeating: "", count: max(0, header.count - row.count))
            switch byRow[i]! {
            case .success(let values):
                lines.append(CSV.line(Array(padded.prefix(header.count)) + [featureSet.name, ""] + values.map { $0.map { "\($0)" } ?? "" }))
            case .failure(let error):
                failures[error.message, default: 0] += 1
                lines.append(CSV.line(Array(padded.prefix(header.count)) + [featureSet.name, error.message]
                                      + Array(repeating: "", count: columns.count)))
            }
        }
        try Self.writeWhole(lines.joined(separator: "\n") + "\n", to: outURL)

        let failed = failures.values.reduce(0, +)
        let summary = Summary(
            featureSet: featureSet.name, rows: rows.count, succeeded: rows.count - failed, failed: failed,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, out: outURL.path, failures: failures)
        if json {
            try Output.json(summary)
        } else {
            print("Wrote \(summary.rows) rows to \(outURL.path) in \(String(format: "%.1f", summary.seconds)) s: "
                  + "\(summary.succeeded) with features, \(failed) failed.")
            for (message, count) in failures.sorted(by: { $0.value > $1.value }) { print("  \(count) × \(message)") }
        }
        guard summary.succeeded > 0 else {
            throw ClinicError(.invalidInput, "No recording of the manifest gave features (is --root right?); see the error column of \(outURL.path).")
        }
    }

    struct RowError: Error { var message: String }

    /// The features of one manifest row (then, with a segmenter, its cycle features, nil where
    /// undefined or when no cycle is found), or why there are none (never throws: the batch goes on).
    static func features(of row: [String], pathColumn: Int, root: URL, set: FeatureSet, segmenter: Segmenter? = nil) -> Result<[Double?], RowError> {
        guard let path = Manifest.path(row, pathColumn, root) else {
            return .failure(RowError(message: "The manifest row has no path."))
        }
        do {
            let analysis = try FeaturesCommand.analyze(set, file: path).analysis
            var values: [Double?] = analysis.features.values
            if let segmenter {
                let timing = (try? segmenter.segment(bandPassed: analysis.bandPassed))?.cycleFeatures ?? [:]
                values += Segmenter.cycleFeatureNames.map { timing[$0] ?? nil }
            }
            return .success(values)
        } catch let error as ClinicError {
            return .failure(RowError(message: error.message))
        } catch let error as AudioError {
            return .failure(RowError(message: error.clinicError.message))
        } catch {
            return .failure(RowError(message: "\(error)"))
        }
    }

    /// Writes `text` to a temporary file beside `url`, flushes it to disk, and renames it over `url`.
    static func writeWhole(_ text: String, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appending(path: ".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            let fd = open(temporary.path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
            guard rename(temporary.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ClinicError(.io, "Cannot write \(url.path): check that its folder exists and is writable.")
        }
    }
}

/// A manifest in the format of ../shared/data/manifest.csv: a header with a `path` column
/// (relative to `root`, by default the manifest's folder), one row per recording.
struct Manifest {
    var header: [String]
    var rows: [[String]]
    var pathColumn: Int
    var root: URL

    init(_ manifest: String, root: String?) throws {
        let manifestURL = URL(fileURLWithPath: manifest)
        let text: String
        do {
            text = try String(contentsOf: manifestURL, encoding: .utf8)
        } catch {
            throw ClinicError(.invalidInput, "Cannot read the manifest \(manifest): it is missing, unreadable or not UTF-8 text.")
        }
        let table = CSV.parse(text)
        guard let header = table.first, let pathColumn = header.firstIndex(of: "path") else {
            throw ClinicError(.invalidInput, "The manifest has no `path` column in its first line (see ../shared/data/manifest.csv for the format).")
        }
        rows = Array(table.dropFirst())
        guard !rows.isEmpty else { throw ClinicError(.invalidInput, "The manifest lists no recordings.") }
        self.root = root.map { URL(fileURLWithPath: $0) } ?? manifestURL.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: self.root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ClinicError(.invalidInput, "The --root folder \(self.root.path) does not exist.")
        }
        self.header = header
        self.pathColumn = pathColumn
    }

    /// A row's file (absolute, or below the root); nil when the row has none.
    static func path(_ row: [String], _ pathColumn: Int, _ root: URL) -> String? {
        guard pathColumn < row.count, !row[pathColumn].isEmpty else { return nil }
        return row[pathColumn].hasPrefix("/") ? row[pathColumn] : root.appending(path: row[pathColumn]).path
    }

    /// A row's value of the named column (nil when the manifest has no such column or the cell is empty).
    func value(_ row: [String], _ column: String) -> String? {
        guard let i = header.firstIndex(of: column), i < row.count, !row[i].isEmpty else { return nil }
        return row[i]
    }
}

/// A progress bar on standard error when it is a terminal; otherwise a line every 10%.
final class Progress: Sendable {
    private struct State { var done = 0, failed = 0, lastDraw: UInt64 = 0, lastDecile = 0 }
    private let state = Mutex(State())
    private let total: Int
    private let show: Bool
    private let terminal = isatty(2) == 1
    private let started = DispatchTime.now().uptimeNanoseconds

    init(total: Int, show: Bool) {
        self.total = total
        self.show = show
    }

    func advance(failed: Bool) {
        state.withLock { s in
            s.done += 1
            if failed { s.failed += 1 }
            guard show else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            if terminal {
                guard now - s.lastDraw > 100_000_000 || s.done == total else { return }
                s.lastDraw = now
                draw(s.done, s.failed, now)
            } else if s.done * 10 / total > s.lastDecile {
                s.lastDecile = s.done * 10 / total
                Output.note("\(s.done)/\(total) files (\(s.failed) failed)")
            }
        }
    }

    func finish() {
        guard show, terminal else { return }
        state.withLock { s in draw(s.done, s.failed, DispatchTime.now().uptimeNanoseconds) }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw(_ done: Int, _ failed: Int, _ now: UInt64) {
        let width = 30, filled = done * width / max(1, total)
        let elapsed = Double(now - started) / 1e9
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "\r[%@] %d/%d  %d failed  %.0f s left ", bar, done, total, failed, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Minimal RFC 4180 CSV: quoted fields with doubled quotes, CRLF or LF line ends.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, atFieldStart = true
        var chars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endField() { row.append(field); field = ""; atFieldStart = true }
        func endRow() { endField(); if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }; row = [] }
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    let n = chars.next()
                    if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = n }
                } else {
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atFieldStart: quoted = true; atFieldStart = false
            case ",": endField()
            case "\r":
                let n = chars.next()
                if n != "\n" { pending = n }
                endRow()
            case "\n": endRow()
            default: field.unicodeScalars.append(c); atFieldStart = false
            }
        }
        if !field.isEmpty || !row.isEmpty { endRow() }
        return rows
    }

    /// One line; a field with a comma, quote or line break is quoted.
    static func line(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }.joined(separator: ",")
    }
}
