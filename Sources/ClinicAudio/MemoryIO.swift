internal import CSndfile
import Foundation

/// A growable in-memory file for libsndfile's virtual I/O, so audio can be decoded from and
/// encoded to memory without temporary files.
final class MemoryFile {
    var bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8] = []) { self.bytes = bytes }

    /// The callbacks; `user_data` is an unretained `MemoryFile`.
    static var callbacks: SF_VIRTUAL_IO {
        SF_VIRTUAL_IO(
            get_filelen: { user in sf_count_t(MemoryFile.from(user).bytes.count) },
            seek: { offset, whence, user in
                let file = MemoryFile.from(user)
                let base: Int
                switch whence {
                case SEEK_SET: base = 0
                case SEEK_CUR: base = file.position
                case SEEK_END: base = file.bytes.count
                default: return -1
                }
                let target = base + Int(offset)
                guard target >= 0 else { return -1 }
                file.position = target
                return sf_count_t(target)
            },
            read: { pointer, count, user in
                let file = MemoryFile.from(user)
                guard let pointer, count > 0, file.position < file.bytes.count else { return 0 }
                let n = min(Int(count), file.bytes.count - file.position)
                file.bytes.withUnsafeBytes { source in
                    pointer.copyMemory(from: source.baseAddress! + file.position, byteCount: n)
                }
                file.position += n
                return sf_count_t(n)
            },
            write: { pointer, count, user in
                let file = MemoryFile.from(user)
                guard let pointer, count > 0 else { return 0 }
                let n = Int(count)
                let end = file.position + n
                if end > file.bytes.count { file.bytes.append(contentsOf: repeatElement(0, count: end - file.bytes.count)) }
                file.bytes.withUnsafeMutableBytes { target in
                    (target.baseAddress! + file.position).copyMemory(from: pointer, byteCount: n)
                }
                file.position = end
                return sf_count_t(n)
            },
            tell: { user in sf_count_t(MemoryFile.from(user).position) }
        )
    }

    private static func from(_ user: UnsafeMutableRawPointer?) -> MemoryFile {
        Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue()
    }
}
