@testable import ClinicAudio
import Foundation
import Testing

/// Every bad input gets a typed error with a message, never a crash or a hang.
@Suite struct BadAudioTests {
    func wavHeader(frames: Int, rate: Int = 4_000, format: UInt16 = 1, bits: UInt16 = 16) -> [UInt8] {
        var h = [UInt8]()
        func u32(_ v: Int) { h += withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, Array.init) }
        func u16(_ v: UInt16) { h += withUnsafeBytes(of: v.littleEndian, Array.init) }
        let bytesPerSample = Int(bits / 8)
        h += Array("RIFF".utf8); u32(36 + frames * bytesPerSample); h += Array("WAVEfmt ".utf8)
        u32(16); u16(format); u16(1); u32(rate); u32(rate * bytesPerSample); u16(UInt16(bytesPerSample)); u16(bits)
        h += Array("data".utf8); u32(frames * bytesPerSample)
        return h
    }

    func expectRefused(_ bytes: [UInt8], _ reason: AudioError.Reason, limits: ImportLimits = ImportLimits()) throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "bad.wav").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try AudioImport.prepare(path: path, limits: limits)
        } throws: { error in
            let e = error as! AudioError
            return e.reason == reason && !e.message.isEmpty
        }
    }

    func pcm16(_ x: [Double]) -> [UInt8] {
        x.flatMap { v in withUnsafeBytes(of: Int16(max(-1, min(1, v)) * 32767).littleEndian, Array.init) }
    }

    @Test func emptyFile() throws { try expectRefused([], .empty) }
    @Test func headerOnly() throws { try expectRefused(wavHeader(frames: 0), .zeroFrames) }
    @Test func headerClaimingMoreThanPresent() throws {
        try expectRefused(wavHeader(frames: 40_000) + pcm16(heartbeat(seconds: 5, rate: 4_000)), .truncated)
    }
    @Test func tenHourHeader() throws {
        try expectRefused(wavHeader(frames: 10 * 3600 * 4_000) + pcm16(heartbeat(seconds: 2, rate: 4_000)), .truncated)
    }
    @Test func textNamedWav() throws { try expectRefused(Array(String(repeating: "not audio\n", count: 50).utf8), .notAudio) }
    @Test func randomBytes() throws {
        var g = SystemRandomNumberGenerator()
        try expectRefused((0..<8_192).map { _ in UInt8.random(in: 0...255, using: &g) }, .notAudio)
    }
    @Test func allZero() throws { try expectRefused(wavHeader(frames: 8_000) + [UInt8](repeating: 0, count: 16_000), .silent) }
    @Test func tooLong() throws {
        try expectRefused(wavHeader(frames: 24_000) + pcm16(heartbeat(seconds: 6, rate: 4_000)), .tooLong, limits: ImportLimits(maxDuration: 5))
    }
    @Test func fileTooLarge() throws {
        try expectRefused(wavHeader(frames: 4_000) + pcm16(heartbeat(seconds: 1, rate: 4_000)), .fileTooLarge, limits: ImportLimits(maxFileBytes: 1_000))
    }
    @Test func oneSampleIsAccepted() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "one.wav").path
        try Data(wavHeader(frames: 1) + pcm16([0.5])).write(to: URL(fileURLWithPath: path))
        #expect(try AudioImport.prepare(path: path).frames == 1)
    }
    @Test func fullScaleClippingIsAccepted() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let path = dir.appending(path: "clip.wav").path
        try AudioWriter.write(samples: heartbeat(seconds: 5, rate: 4_000).map { $0 > 0 ? 1 : -1 }, sampleRate: 4_000, format: .wav16, to: path)
        #expect(try AudioImport.prepare(path: path).frames == 20_000)
    }
    @Test func nanAndInfinityInFloatWav() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = heartbeat(seconds: 1, rate: 4_000).map(Float.init)
            x[123] = bad
            let body = x.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
            try expectRefused(wavHeader(frames: x.count, format: 3, bits: 32) + body, .nonFinite)
        }
    }
    @Test func missingFileAndDirectory() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        #expect(throws: AudioError.self) { try AudioImport.prepare(path: dir.appending(path: "none.wav").path) }
        #expect { try AudioImport.prepare(path: dir.path) } throws: { ($0 as! AudioError).reason == .notAFile }
    }

    /// Seeded mutations of a valid file (bytes flipped, cut, spliced): each is refused with a
    /// typed error or accepted as valid audio; none may crash or hang.
    @Test func mutatedFilesNeverCrash() throws {
        let dir = temporaryDirectory(); defer { cleanup(dir) }
        let good = wavHeader(frames: 8_000) + pcm16(heartbeat(seconds: 2, rate: 4_000))
        var state: UInt64 = 42
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        var accepted = 0, refused = 0
        for i in 0..<300 {
            var bytes = good
            switch i % 3 {
            case 0: for _ in 0..<(1 + next(8)) { bytes[next(64)] = UInt8(next(256)) }
            case 1: bytes = Array(bytes.prefix(next(bytes.count)))
            default: bytes.insert(contentsOf: (0..<next(32)).map { _ in UInt8(next(256)) }, at: next(bytes.count))
            }
            let path = dir.appending(path: "m\(i).wav").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do { _ = try AudioImport.prepare(path: path); accepted += 1 } catch { refused += 1 }
        }
        #expect(accepted + refused == 300 && refused > 0)
    }
}
