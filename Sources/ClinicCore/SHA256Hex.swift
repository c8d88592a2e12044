import Crypto
import Foundation

/// Lowercase hex SHA-256 of bytes: the content address of stored audio.
public func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
    hex(SHA256.hash(data: bytes))
}

/// An incremental SHA-256 for data that arrives in chunks.
public struct ContentHasher {
    private var hash = SHA256()
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer.SubSequence) {
        hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes))
    }
    public func finalize() -> String { hex(hash.finalize()) }
}

private func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(64)
    for byte in digest {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// True for exactly 64 lowercase hexadecimal characters: the form of every SHA-256 the store,
/// the server and the wire use (blob names, `*_sha256` fields).
public func isSHA256Hex(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
}
