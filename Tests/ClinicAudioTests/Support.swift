import Foundation

/// A synthetic heart sound: damped 50 Hz bursts (S1, S2) at 72 bpm over low noise.
func heartbeat(seconds: Double, rate: Int, seed: UInt64 = 1) -> [Double] {
    var state = seed
    func noise() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(Int64(bitPattern: state >> 11) % 1000) / 1000.0 - 0.5
    }
    let n = Int(seconds * Double(rate))
    let beat = 60.0 / 72.0
    return (0..<n).map { i in
        let t = Double(i) / Double(rate)
        let phase = t.truncatingRemainder(dividingBy: beat)
        var x = 0.01 * noise()
        for onset in [0.0, 0.3] where phase >= onset && phase < onset + 0.1 {
            let u = phase - onset
            x += 0.6 * exp(-u * 40) * sin(2 * .pi * 50 * u)
        }
        return x
    }
}

/// A fresh temporary directory, removed by the caller with `cleanup`.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appending(path: "clinic-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func cleanup(_ url: URL) { try? FileManager.default.removeItem(at: url) }
