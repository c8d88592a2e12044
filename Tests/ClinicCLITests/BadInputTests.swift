import ClinicAudio
import ClinicCore
import Foundation
import Testing

/// Each bad input gets a clear message and changes nothing: the store is byte-for-byte as
/// before and `clinic doctor` calls it clean.
@Suite struct BadInputTests {
    static let badFiles: [(name: String, bytes: [UInt8], message: String)] = {
        var header = Array("RIFF".utf8) + [36, 0, 0, 0] + Array("WAVEfmt ".utf8)
        header += [16, 0, 0, 0, 1, 0, 1, 0, 0xA0, 0x0F, 0, 0, 0x40, 0x1F, 0, 0, 2, 0, 16, 0] + Array("data".utf8) + [0, 0, 0, 0]
        var claims = header
        claims[40] = 0x80; claims[41] = 0x3E // data chunk claims 16,000 bytes
        let body = (0..<4_000).flatMap { i in withUnsafeBytes(of: Int16(sin(Double(i) / 5) * 8_000).littleEndian, Array.init) }
        return [
            ("text.wav", Array("this is a text file, not audio\n".utf8), "not audio"),
            ("empty.wav", [], "empty"),
            ("header-only.wav", header, "no audio"),
            ("claims-more.wav", claims + body.prefix(2_000), "truncated"),
            ("silence.wav", header.prefix(40) + [0x40, 0x1F, 0, 0] + [UInt8](repeating: 0, count: 8_000), "silent"),
        ]
    }()

    @Test func badFilesAndArgumentsChangeNothing() throws {
        let store = try newStore(); defer { cleanup(store) }
        let patient = try addPatient(store)
        #expect(try clinic(["add-recording", "--patient", patient, "--location", "AV", sample("circor2022_31737_AV.flac")], store: store).status == 0)
        let work = FileManager.default.temporaryDirectory.appending(path: "bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { cleanup(work) }
        let long = work.appending(path: "long.wav").path
        try AudioWriter.write(samples: (0..<(2_000 * 11)).map { sin(Double($0) / 7) * 0.3 }, sampleRate: 2_000, format: .wav16, to: long)

        var cases: [(args: [String], status: Int32, message: String)] = []
        for f in Self.badFiles {
            let path = work.appending(path: f.name).path
            try Data(f.bytes).write(to: URL(fileURLWithPath: path))
            cases.append((["--patient", patient, "--location", "AV", path], 3, f.message))
        }
        let ok = sample("circor2022_13918_AV.flac")
        cases += [
            (["--patient", patient, "--location", "AV", work.path], 3, "directory"),
            (["--patient", patient, "--location", "AV", work.appending(path: "missing.wav").path], 3, "No file"),
            (["--patient", UUID().uuidString, "--location", "AV", ok], 4, "No patient"),
            (["--patient", "Robert'); DROP TABLE patients;--", "--location", "AV", ok], 3, "not a patient id"),
            (["--patient", patient, "--location", "apex", ok], 64, "Unknown location"),
            (["--patient", patient, "--location", "AV", "--max-duration", "10", long], 3, "limit is 10 seconds"),
            (["--patient", patient, "--location", "AV", "--operator", String(repeating: "x", count: 10_000), ok], 3, "Operator"),
            (["--patient", patient, "--location", "AV", "--operator", "a\u{1B}[2Jb", ok], 3, "control character"),
            (["--patient", patient, "--location", "AV", "--device", "x\ny", ok], 3, "control character"),
            (["--patient", patient, "--location", "AV", "--recorded-at", "yesterday", ok], 64, "ISO 8601"),
            (["--patient", patient, "--location", "AV", "--recorded-at", "2999-01-01T00:00:00Z", ok], 3, "future"),
            (["--patient", patient, "--location", "AV", sample("circor2022_31737_AV.flac")], 5, "already stored"),
        ]
        let before = snapshot(store)
        for c in cases {
            let r = try clinic(["add-recording"] + c.args, store: store)
            #expect(r.status == c.status, "\(c.args.last!): \(r.stderr)")
            #expect(r.stderr.contains(c.message), "\(c.args.last!): \(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(snapshot(store) == before, "\(c.args.last!) changed the store")
        }

        let patientCases: [[String]] = [
            ["patient", "add", "--given-name", String(repeating: "n", count: 10_000), "--family-name", "X"],
            ["patient", "add", "--given-name", "A\u{7}", "--family-name", "X"],
            ["patient", "add", "--given-name", "A", "--family-name", "X", "--external-id", "id\u{1}soh"],
            ["patient", "add", "--given-name", "A", "--family-name", "X", "--notes", "\u{1B}]0;pwned\u{7}"],
            ["patient", "add", "--given-name", "A", "--family-name", "X", "--birth-date", "2020-13-01"],
            ["patient", "update", patient, "--family-name", "\u{202E}evil"],
            ["patient", "update", patient, "--family-name", ""],
            ["patient", "delete", "00000000-0000-4000-8000-000000000000"],
        ]
        for args in patientCases {
            let r = try clinic(args, store: store)
            #expect(r.status != 0, "\(args.prefix(4))")
            #expect(r.stderr.hasPrefix("error: ") || r.stderr.hasPrefix("Error: "), "\(args.prefix(4))")
            #expect(snapshot(store) == before, "\(args.prefix(4)) changed the store")
        }
        let doctor = try clinic(["doctor"], store: store)
        #expect(doctor.status == 0, "\(doctor.stdout)")

        // init refuses hostile site and device names and creates nothing.
        for args in [["--site", "a\u{1B}[1mb"], ["--device-name", String(repeating: "d", count: 10_000)]] {
            let fresh = work.appending(path: "store-\(UUID().uuidString)")
            let r = try clinic(["init"] + args, store: fresh)
            #expect(r.status == 3, "\(args.prefix(1))")
            #expect(!FileManager.default.fileExists(atPath: fresh.path))
        }
    }

    @Test func sqlAndHostileTextIsStoredAsTyped() throws {
        let store = try newStore(); defer { cleanup(store) }
        let hostile = ["Robert'); DROP TABLE patients;--", "\" OR 1=1 --", "%_\\", "Ñandú ☃ 李"]
        for text in hostile {
            let r = try clinic(["patient", "add", "--given-name", text, "--family-name", text, "--external-id", text,
                                "--notes", text, "--json"], store: store)
            #expect(r.status == 0, "\(r.stderr)")
            let id = try #require((r.json as? [String: Any])?["id"] as? String)
            let shown = try #require((try clinic(["patient", "show", id, "--json"], store: store).json as? [String: Any])?["patient"] as? [String: Any])
            #expect(shown["given_name"] as? String == text && shown["notes"] as? String == text)
        }
        #expect((try clinic(["patient", "list", "--json"], store: store).json as? [Any])?.count == hostile.count)
        #expect(try clinic(["doctor"], store: store).status == 0)
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "needs root to run the binary as an unprivileged user (root ignores permissions)"))
    func storeThatIsNotWritableIsRefused() throws {
        let parent = URL(fileURLWithPath: "/tmp/clinic-ro-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { cleanup(parent) }
        let store = parent.appending(path: "store")
        #expect(try clinic(["init"], store: store).status == 0)
        let patient = try addPatient(store)
        _ = try clinic(["doctor"], store: store)
        chmod(parent.path, 0o755)
        let before = snapshot(store)
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let r = try clinic(["add-recording", "--patient", patient, "--location", "AV", sample("circor2022_13918_AV.flac")],
                           store: store, prefix: asNobody)
        #expect(r.status == 6 && r.stderr.contains("not writable"), "\(r.stderr)")
        let p = try clinic(["patient", "add", "--given-name", "A", "--family-name", "B"], store: store, prefix: asNobody)
        #expect(p.status == 6, "\(p.stderr)")
        let i = try clinic(["init"], store: parent.appending(path: "other"), prefix: asNobody)
        #expect(i.status == 6 && i.stderr.contains("Cannot create"), "\(i.stderr)")
        #expect(snapshot(store) == before)
    }
}
