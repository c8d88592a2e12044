import ClinicTestSupport
import Foundation
import Testing

/// `clinic report`: a self-contained page, checked as text and rendered in a real headless
/// browser (Debian's chromium), when one is installed.
@Suite struct ReportCommandTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func makeReport() throws -> (store: URL, html: URL) {
        let store = try newStore()
        let patient = try addPatient(store, "<script>alert(1)</script>", "O'Brien & Co")
        let added = try clinic(["add-recording", "--patient", patient, "--location", "AV", sample("circor2022_13918_AV.flac")], store: store)
        let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try clinic(["add-recording", "--patient", patient, "--location", "PV", sample("circor2022_13918_PV.flac")], store: store).status == 0)
        let html = FileManager.default.temporaryDirectory.appending(path: "report-\(UUID().uuidString).html")
        let r = try clinic(["report", id, "--out", html.path], store: store)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try clinic(["report", id, "--out", html.path], store: store).status == 3, "an existing file is not replaced without --force")
        return (store, html)
    }

    @Test func thePageIsSelfContainedAndEscapesWhatTheStoreHolds() throws {
        let (store, html) = try makeReport()
        defer { cleanup(store); cleanup(html) }
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien &amp; Co") && !page.contains("<script>alert(1)"))
        #expect(!page.contains("src=") && !page.contains("href=") && !page.contains("http://") && !page.contains("https://"), "nothing from a network")
        #expect(page.contains("<svg id=\"waveform\"") && page.contains("<canvas id=\"spectrogram\""))
        // The heart cycle's marks on the waveform: one line per S1 onset, and the heart rate.
        let s1Marks = page.components(separatedBy: "class=\"s1\"/>").count - 1
        #expect(s1Marks >= 3 && page.contains("heart rate"), "S1 marks: \(s1Marks)")
        #expect(page.contains("Mid-systole against mid-diastole") && page.contains(" dB at 100–200 Hz"), "the murmur evidence is shown")
        #expect(page.contains("Signal quality") && page.contains("quality-logistic") && page.contains("The patient's other recordings"))
        #expect(page.contains("<th>Valve disease (adults)</th>") && page.contains("P(MS) ") && page.contains("<th>Heart-sound class</th>")
                && page.contains("P(artifact) ") && page.contains("valve-logistic"), "the class models' rows")
        #expect(page.contains("<td>PV</td>"), "the other recording is listed")
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (apt-get install chromium); the page is still checked as text above"))
    func itRendersInAHeadlessBrowserWithNoErrorsAndShowsTheWaveform() throws {
        let (store, html) = try makeReport()
        defer { cleanup(store); cleanup(html) }
        let shot = FileManager.default.temporaryDirectory.appending(path: "report-\(UUID().uuidString).png")
        defer { cleanup(shot) }
        let base = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--window-size=1100,1300"]
        let dom = try run(Self.chromium!, base + ["--dump-dom", html.absoluteString])
        let body = dom.stdout.components(separatedBy: "<body").dropFirst().first?.prefix { $0 != ">" } ?? ""
        #expect(body.contains("data-spectrogram=\"drawn\"") && !body.contains("data-error"), "the script ran without an error: <body\(body)>")
        let rendered = try run(Self.chromium!, base + ["--screenshot=\(shot.path)", html.absoluteString])
        let console = (dom.stderr + rendered.stderr).split(separator: "\n").filter { $0.contains("CONSOLE") }
        #expect(console.isEmpty, "console: \(console)")
        // The waveform's colour (#0057b8) in the screenshot, counted by Python's zlib (PNG, 8-bit RGB(A)).
        let count = try run("/usr/bin/python3", ["-c", Self.countColour, shot.path])
        let pixels = Int(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(pixels > 2_000, "waveform pixels in the screenshot: \(pixels) \(count.stderr)")
    }

    func run(_ tool: String, _ arguments: [String]) throws -> (stdout: String, stderr: String) {
        let r = try runProcess(URL(fileURLWithPath: tool), arguments)
        return (r.stdout, r.stderr)
    }

    /// Counts pixels within 40 of (0, 87, 184) in a PNG, with only the standard library.
    static let countColour = #"""
    import sys, zlib, struct
    data = open(sys.argv[1], "rb").read()
    pos, idat, w, h, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
        if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT": idat += body
    bpp = {2: 3, 6: 4}[ctype]; raw = zlib.decompress(idat); stride = w * bpp
    prev, count, i = bytearray(stride), 0, 0
    for y in range(h):
        f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp):
            if abs(line[x]) <= 40 and abs(line[x + 1] - 87) <= 40 and abs(line[x + 2] - 184) <= 40: count += 1
        prev = line
    print(count)
    """#
}
