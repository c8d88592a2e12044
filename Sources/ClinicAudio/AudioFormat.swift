internal import CSndfile

/// A libsndfile format code described as `container/encoding`, e.g. `wav/pcm16`.
public struct AudioFormat: Sendable, Equatable, CustomStringConvertible {
    public var code: Int32

    public init(code: Int32) { self.code = code }

    public var container: String {
        switch code & Int32(SF_FORMAT_TYPEMASK) {
        case Int32(SF_FORMAT_WAV), Int32(SF_FORMAT_WAVEX): "wav"
        case Int32(SF_FORMAT_RF64): "rf64"
        case Int32(SF_FORMAT_W64): "w64"
        case Int32(SF_FORMAT_AIFF): "aiff"
        case Int32(SF_FORMAT_AU): "au"
        case Int32(SF_FORMAT_CAF): "caf"
        case Int32(SF_FORMAT_FLAC): "flac"
        case Int32(SF_FORMAT_OGG): "ogg"
        case Int32(SF_FORMAT_MPEG): "mpeg"
        case let other: "type-0x" + String(other >> 16, radix: 16)
        }
    }

    public var encoding: String {
        switch code & Int32(SF_FORMAT_SUBMASK) {
        case Int32(SF_FORMAT_PCM_S8): "pcm8"
        case Int32(SF_FORMAT_PCM_U8): "pcm8u"
        case Int32(SF_FORMAT_PCM_16): "pcm16"
        case Int32(SF_FORMAT_PCM_24): "pcm24"
        case Int32(SF_FORMAT_PCM_32): "pcm32"
        case Int32(SF_FORMAT_FLOAT): "float32"
        case Int32(SF_FORMAT_DOUBLE): "float64"
        case Int32(SF_FORMAT_ULAW): "ulaw"
        case Int32(SF_FORMAT_ALAW): "alaw"
        case Int32(SF_FORMAT_VORBIS): "vorbis"
        case Int32(SF_FORMAT_OPUS): "opus"
        case Int32(SF_FORMAT_MPEG_LAYER_III): "mp3"
        case let other: "enc-0x" + String(other, radix: 16)
        }
    }

    public var description: String { container + "/" + encoding }

    /// True when samples are floating point (cannot be kept in FLAC losslessly).
    public var isFloat: Bool { encoding == "float32" || encoding == "float64" }

    /// The FLAC subtype that holds this format's integer samples exactly, if there is one.
    var losslessFLACSubtype: Int32? {
        switch code & Int32(SF_FORMAT_SUBMASK) {
        case Int32(SF_FORMAT_PCM_S8), Int32(SF_FORMAT_PCM_U8): Int32(SF_FORMAT_PCM_S8)
        case Int32(SF_FORMAT_PCM_16): Int32(SF_FORMAT_PCM_16)
        case Int32(SF_FORMAT_PCM_24): Int32(SF_FORMAT_PCM_24)
        default: nil
        }
    }

    /// True for uncompressed PCM containers whose audio should be stored as FLAC.
    var isUncompressedPCM: Bool {
        container != "flac" && container != "ogg" && container != "mpeg" && losslessFLACSubtype != nil
    }
}
