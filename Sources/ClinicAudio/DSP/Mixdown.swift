/// Channel mixdown.
public enum Mixdown {
    /// The mean of the channels of interleaved audio, frame by frame (librosa `to_mono`).
    public static func mono(_ interleaved: [Double], channels: Int) -> [Double] {
        guard channels > 1 else { return interleaved }
        let frames = interleaved.count / channels
        let scale = 1 / Double(channels)
        return (0..<frames).map { f in
            var s = 0.0
            for c in 0..<channels { s += interleaved[f * channels + c] }
            return s * scale
        }
    }

    /// The mean of the channels of decoded audio.
    public static func mono(_ audio: DecodedAudio) -> [Double] {
        mono(audio.samples, channels: audio.channels)
    }
}
