// clinic-server-fuzz: seeded mutation fuzzing of the server's network-facing readers (push
// bodies, Range headers, query parameters) and the rules a push meets next. The properties
// each case must keep are listed in Fuzz/ServerFuzzing/ServerFuzzer.swift.
//
//   swift build -c release --product clinic-server-fuzz
//   .build/release/clinic-server-fuzz [--iterations 1000000] [--seed 1] [--pending FILE]
//
// Before each case its input is written to --pending (default: Tests/Fixtures/server-fuzz/
// crash-pending.txt, ignored by git); if the process dies, that file holds the crashing input.
// Exit 0 when no property broke, 1 with the failures listed otherwise. The test suite runs
// the same fuzzer for 4,000 cases of a fixed seed (ServerFuzzTests).
import ClinicServerFuzzing
import Foundation

func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

let iterations = Int(argument("--iterations") ?? "1000000") ?? 1_000_000
let seed = UInt64(argument("--seed") ?? "1") ?? 1
let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let pending = URL(fileURLWithPath: argument("--pending") ?? repo.appending(path: "Tests/Fixtures/server-fuzz/crash-pending.txt").path)
try FileManager.default.createDirectory(at: pending.deletingLastPathComponent(), withIntermediateDirectories: true)

var fuzzer = ServerFuzzer(seed: seed)
let started = Date()
var report = ServerFuzzer.Report()
let step = 50_000
var done = 0
while done < iterations {
    let n = min(step, iterations - done)
    let part = fuzzer.run(iterations: n) { input in
        let text: String
        switch input {
        case .pushBody(let bytes): text = "push-body\n" + String(decoding: bytes, as: UTF8.self)
        case .range(let header, let size): text = "range \(size)\n\(header)"
        case .query(let value): text = "query\n\(value)"
        }
        try? Data(text.utf8).write(to: pending)
    }
    done += n
    report.add(part)
    let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001)
    FileHandle.standardError.write(Data("\(done)/\(iterations) cases, \(Int(rate))/s, \(report.failures.count) failures\n".utf8))
}
try? FileManager.default.removeItem(at: pending)
print("cases \(report.cases): push bodies read \(report.bodiesRead), refused \(report.bodiesRefused); ranges satisfied \(report.rangesSatisfied); query integers accepted \(report.integersAccepted)")
for failure in report.failures.prefix(50) { print("FAIL " + failure) }
exit(report.failures.isEmpty ? 0 : 1)
