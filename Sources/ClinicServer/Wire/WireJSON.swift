import ClinicCore
import ClinicSync
import Foundation
import NIOCore

/// Hand-written JSON for the hot wire types: the pull page, push results, feed entries and
/// record states. The output has the same shape as `JSON.encoder` (sorted keys, optional keys
/// omitted, slashes not escaped), which the tests check; it exists because `JSONEncoder`
/// dominated the server's CPU under load (see docs/performance.md, "Server").
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    mutating func int(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }

    /// A quoted, escaped string (as JSONEncoder with `.withoutEscapingSlashes` writes it).
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for (i, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                start = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func value(_ value: FieldValue) {
        switch value {
        case .null: raw("null")
        case .text(let s): string(s)
        case .integer(let i): int(i)
        case .real(let d):
            // JSONEncoder writes integral doubles without ".0"; non-finite values never pass EntityRules.
            guard d.isFinite else { raw("null"); return }
            var text = d.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            bytes.append(contentsOf: text.utf8)
        }
    }

    /// `{"a":…,"b":…}` with keys in order.
    mutating func object<V>(_ dictionary: [String: V], _ write: (inout JSONWriter, V) -> Void) {
        raw("{")
        var first = true
        for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
            if !first { raw(",") }
            first = false
            string(key)
            raw(":")
            write(&self, value)
        }
        raw("}")
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// The wire forms, written by `JSONWriter`.
enum WireJSON {
    /// A change's keys that sort before `outcome`: `{"change_id":…,…,"op":"insert"` (no closing brace).
    /// The feed entry and the stored change both start with it.
    static func changePrefix(_ change: Change) -> [UInt8] {
        var w = JSONWriter(capacity: 512)
        w.raw("{\"change_id\":")
        w.string(change.changeID.lowercased)
        w.raw(",\"device_id\":")
        w.string(change.deviceID.lowercased)
        w.raw(",\"entity\":")
        w.string(change.entity.rawValue)
        w.raw(",\"entity_id\":")
        w.string(change.entityID.lowercased)
        w.raw(",\"fields\":")
        w.object(change.fields) { $0.value($1) }
        w.raw(",\"hlc\":")
        w.string(change.hlc.description)
        w.raw(",\"op\":")
        w.string(change.operation.rawValue)
        return w.bytes
    }

    /// One pull entry (`FeedEntry`): what `GET /v1/changes` returns for it, stored at write time.
    static func feedEntry(prefix: [UInt8], outcome: PushOutcome, seq: Int64, serverSeq: Int64) -> String {
        var w = JSONWriter(capacity: prefix.count + 64)
        w.raw(prefix)
        w.raw(",\"outcome\":")
        w.string(outcome.rawValue)
        w.raw(",\"seq\":")
        w.int(seq)
        w.raw(",\"server_seq\":")
        w.int(serverSeq)
        w.raw("}")
        return w.text
    }

    /// The pushed entry as the feed table keeps it (`PushEntry`, with its base).
    static func storedChange(prefix: [UInt8], seq: Int64, base: [String: FieldClock]?) -> String {
        var w = JSONWriter(capacity: prefix.count + 64)
        w.raw(prefix)
        w.raw(",\"seq\":")
        w.int(seq)
        if let base {
            w.raw(",\"base\":")
            w.object(base) { $0.string($1.description) }
        }
        w.raw("}")
        return w.text
    }

    static func recordState(_ state: RecordState) -> String {
        // A record's clocks are few and repeat (an insert gives every field the same one):
        // spell each once.
        var spelled: [(FieldClock, String)] = []
        func text(_ clock: FieldClock) -> String {
            if let known = spelled.first(where: { $0.0 == clock }) { return known.1 }
            let t = clock.description
            spelled.append((clock, t))
            return t
        }
        var w = JSONWriter(capacity: 1024)
        w.raw("{\"bases\":")
        w.object(state.bases) { $0.string(text($1)) }
        w.raw(",\"clocks\":")
        w.object(state.clocks) { $0.string(text($1)) }
        w.raw(",\"fields\":")
        w.object(state.fields) { $0.value($1) }
        if let origin = state.origin {
            w.raw(",\"origin\":")
            w.string(text(origin))
        }
        w.raw("}")
        return w.text
    }

    /// `{"results":[…]}` for a push.
    static func pushResponse(_ results: [PushResult]) -> ByteBuffer {
        var w = JSONWriter(capacity: 32 + results.count * 120)
        w.raw("{\"results\":[")
        for (i, r) in results.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"change_id\":")
            w.string(r.changeID)
            if let code = r.code {
                w.raw(",\"code\":")
                w.string(code)
            }
            w.raw(",\"outcome\":")
            w.string(r.outcome.rawValue)
            if let reason = r.reason {
                w.raw(",\"reason\":")
                w.string(reason)
            }
            w.raw(",\"seq\":")
            w.int(r.seq)
            if let serverSeq = r.serverSeq {
                w.raw(",\"server_seq\":")
                w.int(serverSeq)
            }
            w.raw("}")
        }
        w.raw("]}")
        return ByteBuffer(bytes: w.bytes)
    }

    /// `{"changes":[…],"more":…,"next":…}` from stored feed entries.
    static func pullResponse(_ entries: [String], next: Int64, more: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(entries.reduce(48) { $0 + $1.utf8.count + 1 })
        buffer.writeStaticString("{\"changes\":[")
        for (i, entry) in entries.enumerated() {
            if i > 0 { buffer.writeStaticString(",") }
            buffer.writeString(entry)
        }
        buffer.writeStaticString(more ? "],\"more\":true,\"next\":" : "],\"more\":false,\"next\":")
        buffer.writeString(String(next))
        buffer.writeStaticString("}")
        return buffer
    }
}
