import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A one-answer HTTP server on 127.0.0.1 for what a real server never sends: garbage, HTML,
/// truncated bodies, redirects, stalls. Each connection gets `reply` (then, if `stall`, the
/// connection stays silent for that long before closing).
final class FakeServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let thread: Thread

    init(reply: [UInt8], stall: Double = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { close(fd); throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
        let listener = fd
        thread = Thread {
            while true {
                let client = accept(listener, nil, nil)
                // Woken by stop(): this thread closes the socket, so its number is not reused
                // (and accepted from) while the thread still runs.
                if client < 0 { close(listener); return }
                var buffer = [UInt8](repeating: 0, count: 65_536)
                var seen: [UInt8] = []
                while !seen.contains(subsequence: [13, 10, 13, 10]) {
                    let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    seen += buffer[0..<n]
                }
                _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if stall > 0 { Thread.sleep(forTimeInterval: stall) }
                close(client)
            }
        }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)) }

    static func http(_ status: String, _ headers: [String], _ body: String, declaredLength: Int? = nil) -> [UInt8] {
        let head = (["HTTP/1.1 \(status)", "Content-Length: \(declaredLength ?? body.utf8.count)", "Connection: close"] + headers).joined(separator: "\r\n")
        return Array((head + "\r\n\r\n" + body).utf8)
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence s: [UInt8]) -> Bool {
        guard count >= s.count else { return false }
        for i in 0...(count - s.count) where self[i..<(i + s.count)].elementsEqual(s) { return true }
        return false
    }
}
