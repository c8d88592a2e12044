import ArgumentParser
import ClinicAssessment
import ClinicAudio
import ClinicCore
import ClinicStore
import Foundation

/// `clinic report RECORDING_ID --out FILE.html`: one self-contained page a clinician can open
/// with no network: the waveform (inline SVG), a spectrogram (a canvas drawn by an inline
/// script from data in the page), the assessment with its confidence and model versions, and
/// the patient's other recordings.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML page about one recording: waveform, spectrogram, assessment.",
        discussion: """
            The page needs no network and loads nothing from elsewhere; it holds the patient's name, so \
            keep it as you would the record. The assessment shown is the recording's latest (see \
            `clinic assess --recording ID` to add one with the current models).
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "The recording id (or its first 8 or more characters).") var id: String
    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "file")) var out: String
    @Flag(help: "Replace the output file if it exists.") var force = false
    @OptionGroup var output: JSONFlag

    func run() throws {
        let outURL = URL(fileURLWithPath: out)
        if FileManager.default.fileExists(atPath: outURL.path) && !force {
            throw ClinicError.invalid("\(out) exists. Pass --force to replace it.")
        }
        let store = try ClinicStore.open(at: storeOptions.url)
        let recording = try store.recording(try store.resolveRecordingID(id))
        let patient = try store.patient(recording.patientID)
        let others = try store.recordings(patientID: patient.id, includeDeleted: false).filter { $0.id != recording.id }
        let latest = try store.assessments(recordingID: recording.id).last
        let audio = try AssessmentCLI.withStoredAudio(recording, in: store) { path in
            try AudioReader.readMono(path: path, resampledTo: Assessor.featureSet.analysisRate)
        }
        let analysis = try? Assessor.featureSet.analyze(resampled: audio)
        // The heart cycle, marked on the waveform (none when the recording is too short or flat to segment).
        let cycle = analysis.flatMap { a in try? Segmenter.shipped().segment(bandPassed: a.bandPassed) }
        let page = ReportPage(recording: recording, patient: patient, assessment: latest, samples: audio.samples, rate: audio.rate,
                              logMel: analysis?.logMel, cycle: cycle, others: others.map { ($0, try? store.assessments(recordingID: $0.id).last) })
        try FeatureBatch.writeWhole(page.html, to: outURL)
        if output.json { try Output.json(["id": recording.id.lowercased, "out": outURL.path]) } else { Output.note("Wrote \(outURL.path)") }
    }
}

/// Text for HTML: the five characters with a meaning there replaced (a hostile name stays text).
func escape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// The report's HTML. Every text from the store is escaped; the only script is inline.
struct ReportPage {
    var recording: Recording
    var patient: Patient
    var assessment: Assessment?
    var samples: [Double]
    var rate: Double
    var logMel: FrameMatrix?
    var cycle: Segmentation?
    var others: [(Recording, Assessment?)]

    /// The waveform as an SVG path: the min and max of each of `columns` slices (so a peak is
    /// never lost), scaled to the largest absolute value.
    func waveformSVG(width: Int = 1000, height: Int = 160) -> String {
        let columns = max(1, min(width, samples.count))
        let peak = max(samples.map(abs).max() ?? 0, 1e-12)
        var d = ""
        for c in 0..<columns {
            let lo = c * samples.count / columns, hi = max(lo + 1, (c + 1) * samples.count / columns)
            let slice = samples[lo..<min(hi, samples.count)]
            let top = Double(height) / 2 * (1 - (slice.max() ?? 0) / peak), bottom = Double(height) / 2 * (1 - (slice.min() ?? 0) / peak)
            let x = Double(c) * Double(width) / Double(columns)
            d += String(format: "M%.1f %.1fV%.1f", x, top, max(bottom, top + 0.5))
        }
        let seconds = Double(samples.count) / rate
        var ticks = ""
        let step = seconds > 30 ? 10.0 : seconds > 10 ? 2.0 : 1.0
        for t in stride(from: 0.0, through: seconds, by: step) {
            let x = t / max(seconds, 1e-9) * Double(width)
            ticks += String(format: "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"tick\"/><text x=\"%.1f\" y=\"%d\">%.0f s</text>",
                            x, height, x, height + 4, x + 2, height + 16, t)
        }
        // S1 and S2 onsets from the segmenter: a labelled line at each.
        var marks = ""
        for (onsets, label) in [(cycle?.s1Onsets ?? [], "S1"), (cycle?.s2Onsets ?? [], "S2")] {
            for t in onsets {
                let x = t / max(seconds, 1e-9) * Double(width)
                let cls = label.lowercased(), at = String(format: "%.1f", x), textAt = String(format: "%.1f", x + 1)
                marks += "<line x1=\"\(at)\" y1=\"0\" x2=\"\(at)\" y2=\"\(height)\" class=\"\(cls)\"/><text x=\"\(textAt)\" y=\"10\" class=\"\(cls)\">\(label)</text>"
            }
        }
        return """
            <svg id="waveform" viewBox="0 0 \(width) \(height + 20)" width="100%" role="img" aria-label="waveform">
            <rect x="0" y="0" width="\(width)" height="\(height)" class="bg"/>
            <path d="\(d)" class="wave"/>\(marks)\(ticks)</svg>
            """
    }

    /// The log-mel spectrogram as bytes (0: 80 dB below the loudest cell; 255: it), frame by frame, base64.
    func spectrogramData() -> (frames: Int, bands: Int, base64: String)? {
        guard let m = logMel, m.frames > 0, m.rows > 0 else { return nil }
        let top = m.values.max() ?? 0
        let bytes = m.values.map { UInt8(max(0, min(255, (($0 - (top - 80)) / 80 * 255).rounded()))) }
        return (m.frames, m.rows, Data(bytes).base64EncodedString())
    }

    static func assessmentRows(_ a: Assessment?) -> String {
        guard let a else { return "<p>Not assessed yet: run <code>clinic assess --recording ID</code>.</p>" }
        guard let s = AssessmentCLI.Stored(a) else {
            return "<p>An assessment of a kind this clinic cannot show (\(escape(a.kind)), \(escape(a.model)) \(escape(a.modelVersion))).</p>"
        }
        let full = (try? JSONSerialization.jsonObject(with: Data(a.result.utf8))) as? [String: Any] ?? [:]
        func p(_ task: String) -> String {
            guard let v = (full[task] as? [String: Any])?["probability"] as? Double else { return "—" }
            return String(format: "%.2f", v)
        }
        let models = (full["models"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\(escape($0.key)): \(escape($0.value))" }
        var rows = """
            <table class="assessment">
            <tr><th>Signal quality</th><td class="grade">\(escape(s.quality.grade))</td><td>\(s.quality.acceptable ? "acceptable" : "<b>unacceptable</b>")</td><td>P(acceptable) \(p("quality"))</td></tr>
            <tr><th>Normal / abnormal</th><td>\(escape(s.abnormal.call))</td><td></td><td>P(abnormal) \(p("abnormal"))</td></tr>
            <tr><th>Murmur</th><td>\(escape(s.murmur.call))</td><td></td><td>P(present) \(p("murmur"))</td></tr>\(classRow(full, "heart_sound", "Heart-sound class"))\(classRow(full, "valve", "Valve disease (adults)"))
            </table>
            """
        if let reason = full["reason"] as? String { rows += "<p>Not assessed by the models: \(escape(reason)).</p>" }
        if let advice = s.advice { rows += "<p class=\"advice\">Advice: \(escape(advice))</p>" }
        rows += "<p class=\"small\">Assessed \(escape(a.createdAt)) by \(models.joined(separator: "; ")). A call is the probability against the model's threshold; "
            + "how well each model does on patients it never saw is in its model card.</p>"
        return rows
    }

    /// A class model's row (valve, heart_sound): the call and every class's probability; empty when the assessment has none.
    static func classRow(_ full: [String: Any], _ key: String, _ title: String) -> String {
        guard let v = full[key] as? [String: Any], let call = v["call"] as? String, let p = v["probabilities"] as? [String: Double] else { return "" }
        let shown = key == "valve" && call == "N" ? "none found" : call
        let ps = p.sorted { $0.key < $1.key }.map { "P(\(escape($0.key))) " + String(format: "%.2f", $0.value) }.joined(separator: ", ")
        return "\n<tr><th>\(escape(title))</th><td>\(escape(shown))</td><td></td><td>\(ps)</td></tr>"
    }

    /// The segmenter's heart rate and what the marks are, and how much sound fills systole: the
    /// evidence the murmur model reads most (docs/classifiers.md).
    var cycleNote: String {
        guard let c = cycle else { return " No heart cycle marked: the recording could not be segmented." }
        var note = String(format: " Marks: S1 (red) and S2 (green) onsets found by the heart-cycle segmenter (%d S1, %d S2); heart rate %.0f bpm.",
                          c.s1Onsets.count, c.s2Onsets.count, c.heartRate)
        let bands = Segmenter.cycleBands.compactMap { b -> String? in
            guard let v = c.cycleFeatures[Segmenter.spectrumFeature("sys_dia", b)] ?? nil else { return nil }
            return String(format: "%+.1f dB at %.0f–%.0f Hz", 10 / log(10) * v, b.lo, b.hi)
        }
        if bands.count == Segmenter.cycleBands.count {
            note += " Mid-systole against mid-diastole, median over the complete cycles: " + bands.joined(separator: ", ")
                + " (CirCor's recordings: median about +1 dB where no murmur was heard, +3 to +8 dB where one was)."
        }
        return note
    }

    var html: String {
        let r = recording
        let name = "\(patient.givenName) \(patient.familyName)"
        let spectrogram = spectrogramData()
        let others = self.others.isEmpty ? "<p>None.</p>" : "<table class=\"others\"><tr><th>Recording</th><th>Recorded</th><th>Site</th><th>Length</th><th>Latest assessment</th></tr>"
            + self.others.map { o, a in
                "<tr><td><code>\(escape(String(o.id.lowercased.prefix(8))))</code></td><td>\(escape(o.recordedAt))</td><td>\(escape(o.location.rawValue))</td>"
                    + String(format: "<td>%.1f s</td>", o.duration) + "<td>\(escape(a.flatMap(AssessmentCLI.Stored.init)?.line ?? "not assessed"))</td></tr>"
            }.joined() + "</table>"
        let canvas = spectrogram.map { s in
            """
            <canvas id="spectrogram" width="\(s.frames)" height="\(s.bands)" data-frames="\(s.frames)" data-bands="\(s.bands)"></canvas>
            <script>
            (function () {
              var c = document.getElementById("spectrogram"), g = c.getContext("2d");
              var raw = atob("\(s.base64)"), frames = \(s.frames), bands = \(s.bands);
              var img = g.createImageData(frames, bands);
              for (var f = 0; f < frames; f++) for (var b = 0; b < bands; b++) {
                var v = raw.charCodeAt(f * bands + b) / 255, i = ((bands - 1 - b) * frames + f) * 4;
                img.data[i] = Math.round(255 * Math.min(1, Math.max(0, 1.8 * v - 0.5)));
                img.data[i + 1] = Math.round(255 * Math.min(1, Math.max(0, 1.4 * v - 0.2)));
                img.data[i + 2] = Math.round(255 * Math.min(1, 0.35 + 0.6 * v - 0.5 * v * v));
                img.data[i + 3] = 255;
              }
              g.putImageData(img, 0, 0);
              document.body.setAttribute("data-spectrogram", "drawn");
            })();
            </script>
            """
        } ?? "<p>No spectrogram: the recording is shorter than the analysis needs.</p>"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
            <title>Recording \(escape(String(r.id.lowercased.prefix(8)))) — \(escape(name))</title>
            <style>
            body { font: 15px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1b1b; max-width: 1100px; }
            h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
            .small { color: #555; font-size: 13px; } .advice { background: #fff3cd; padding: 8px 12px; }
            table { border-collapse: collapse; } th, td { text-align: left; padding: 4px 12px 4px 0; vertical-align: top; }
            .others td, .others th { border-bottom: 1px solid #ddd; } .grade { font-weight: bold; }
            #waveform .bg { fill: #f7f9fc; } #waveform .wave { stroke: #0057b8; stroke-width: 1; fill: none; }
            #waveform .tick { stroke: #888; } #waveform text { font-size: 11px; fill: #555; }
            #waveform line.s1 { stroke: #c62828; stroke-width: 1; } #waveform text.s1 { fill: #c62828; font-size: 9px; }
            #waveform line.s2 { stroke: #2e7d32; stroke-width: 1; stroke-dasharray: 3 2; } #waveform text.s2 { fill: #2e7d32; font-size: 9px; }
            #spectrogram { width: 100%; height: 160px; image-rendering: pixelated; background: #000; }
            </style></head>
            <body>
            <script>window.onerror = function (m) { document.body.setAttribute("data-error", String(m)); };</script>
            <h1>\(escape(name))</h1>
            <p class="small">Patient <code>\(escape(patient.id.lowercased))</code>\(patient.externalID.map { " · external id \(escape($0))" } ?? "")
            · recording <code>\(escape(r.id.lowercased))</code> · \(escape(r.location.rawValue)) · recorded \(escape(r.recordedAt))
            \(r.operatorName.map { "by \(escape($0))" } ?? "") · \(String(format: "%.1f s at %d Hz", r.duration, r.sampleRate))</p>
            <h2>Assessment</h2>
            \(Self.assessmentRows(assessment))
            <h2>Waveform</h2>
            \(waveformSVG())
            <p class="small">The signal resampled to \(Int(rate)) Hz, as analysed, scaled to its loudest sample.\(cycleNote)</p>
            <h2>Spectrogram</h2>
            \(canvas)
            <p class="small">Mel bands 20–720 Hz, low at the bottom; 80 dB range.</p>
            <h2>The patient's other recordings</h2>
            \(others)
            <p class="small">Written by clinic on \(escape(Timestamp.format(Date()))). Nothing on this page is loaded from a network.</p>
            </body></html>

            """
    }
}
