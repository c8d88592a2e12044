internal import CSndfile
import Foundation

/// An open libsndfile handle, over memory or a file path. Closed on deinit.
final class SoundFile {
    private var handle: OpaquePointer?
    private let memory: MemoryFile?
    private var io: SF_VIRTUAL_IO
    private(set) var info: SF_INFO

    var format: AudioFormat { AudioFormat(code: info.format) }
    var sampleRate: Int { Int(info.samplerate) }
    var channels: Int { Int(info.channels) }
    var frames: Int64 { Int64(info.frames) }

    /// Opens audio held in memory for reading. Throws `.notAudio` when libsndfile cannot parse it.
    init(reading bytes: MemoryFile) throws(AudioError) {
        memory = bytes
        io = MemoryFile.callbacks
        info = SF_INFO()
        handle = sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(bytes).toOpaque())
        guard handle != nil else {
            let why = String(cString: sf_strerror(nil))
            throw AudioError(.notAudio, "The file is not audio that can be read (\(why)). Use a WAV or FLAC recording from the stethoscope.")
        }
    }

    /// Opens a file path for reading, so a long file is decoded piece by piece.
    init(readingPath path: String) throws(AudioError) {
        memory = nil
        io = MemoryFile.callbacks
        info = SF_INFO()
        handle = sf_open(path, Int32(SFM_READ), &info)
        guard handle != nil else {
            let why = String(cString: sf_strerror(nil))
            throw AudioError(.notAudio, "The file is not audio that can be read (\(why)). Use a WAV or FLAC recording from the stethoscope.")
        }
    }

    /// Opens memory for writing audio in `format` (a libsndfile format code).
    init(writing bytes: MemoryFile, format: Int32, sampleRate: Int, channels: Int) throws(AudioError) {
        memory = bytes
        io = MemoryFile.callbacks
        info = SF_INFO(frames: 0, samplerate: Int32(sampleRate), channels: Int32(channels), format: format, sections: 0, seekable: 0)
        handle = sf_open_virtual(&io, Int32(SFM_WRITE), &info, Unmanaged.passUnretained(bytes).toOpaque())
        guard handle != nil else {
            throw AudioError(.encodeFailed, "Could not start encoding audio: \(String(cString: sf_strerror(nil))).")
        }
    }

    /// Opens a file path for writing audio in `format`.
    init(writingPath path: String, format: Int32, sampleRate: Int, channels: Int) throws(AudioError) {
        memory = nil
        io = MemoryFile.callbacks
        info = SF_INFO(frames: 0, samplerate: Int32(sampleRate), channels: Int32(channels), format: format, sections: 0, seekable: 0)
        handle = sf_open(path, Int32(SFM_WRITE), &info)
        guard handle != nil else {
            throw AudioError(.writeFailed, "Could not write the audio file: \(String(cString: sf_strerror(nil))).")
        }
    }

    deinit { close() }

    func close() {
        if let handle { sf_close(handle) }
        handle = nil
    }

    /// libsndfile's parse log for this file (used to detect headers that claim more data than present).
    var log: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        _ = clinic_sf_get_log(handle, &buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads up to `frames` frames of interleaved 32-bit integers (PCM left-justified). Returns frames read.
    func read(into buffer: inout [Int32], frames: Int) -> Int {
        buffer.withUnsafeMutableBufferPointer { Int(sf_readf_int(handle, $0.baseAddress, sf_count_t(frames))) }
    }

    /// Reads up to `frames` frames of interleaved doubles. Returns frames read.
    func read(into buffer: inout [Double], frames: Int) -> Int {
        buffer.withUnsafeMutableBufferPointer { Int(sf_readf_double(handle, $0.baseAddress, sf_count_t(frames))) }
    }

    func write(_ buffer: [Int32], frames: Int) throws(AudioError) {
        let written = buffer.withUnsafeBufferPointer { Int(sf_writef_int(handle, $0.baseAddress, sf_count_t(frames))) }
        guard written == frames else {
            throw AudioError(.encodeFailed, "Encoding audio failed: \(String(cString: sf_strerror(handle))).")
        }
    }

    func write(_ buffer: [Double], frames: Int) throws(AudioError) {
        let written = buffer.withUnsafeBufferPointer { Int(sf_writef_double(handle, $0.baseAddress, sf_count_t(frames))) }
        guard written == frames else {
            throw AudioError(.writeFailed, "Writing audio failed: \(String(cString: sf_strerror(handle))).")
        }
    }

    /// Frames per read or write: bounded memory whatever the file's length.
    static let chunkFrames = 65_536
}
