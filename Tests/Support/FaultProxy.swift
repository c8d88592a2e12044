import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 in front of a real server that breaks the link the way a field
/// 2G/3G link does: each connection is cut after a (seeded) random number of bytes in either
/// direction, mid-request or mid-answer; or, while `down`, every connection is refused at once.
/// It can also throttle each direction (`bytesPerSecond`), delay every byte (`latency`, one
/// way) and stall (`stall`: after every so many bytes a direction carries, a pause).
public final class FaultProxy: @unchecked Sendable {
    struct State {
        var cutAfter: ClosedRange<Int>?
        var down = false
        /// Connections after this many are refused (the link goes away for good).
        var downAfter: Int?
        var connections = 0
        var cuts = 0
        var rng: UInt64
        var rate: Int?
        var latency: Double = 0
        var stall: Stall?
        /// Bytes carried from clients to the server, and back.
        var bytesUp: Int64 = 0
        var bytesDown: Int64 = 0
    }

    public let port: Int
    private let fd: Int32
    private let upstream: Int
    let state: Mutex<State>
    /// Bytes per second each connection carries in each direction (nil: as fast as it goes).
    public var bytesPerSecond: Int? { get { state.withLock { $0.rate } } set { state.withLock { $0.rate = newValue } } }
    /// Seconds each byte takes from one end to the other (one way; a round trip is twice it).
    public var latency: Double { get { state.withLock { $0.latency } } set { state.withLock { $0.latency = newValue } } }
    /// After every `everyBytes` bytes a direction of a connection carries, it pauses `seconds`.
    public struct Stall: Sendable {
        public var everyBytes: Int
        public var seconds: Double
        public init(everyBytes: Int, seconds: Double) {
            self.everyBytes = everyBytes
            self.seconds = seconds
        }
    }
    public var stall: Stall? { get { state.withLock { $0.stall } } set { state.withLock { $0.stall = newValue } } }

    public init(upstream: Int, cutAfter: ClosedRange<Int>? = nil, seed: UInt64 = 1) throws {
        state = Mutex(State(cutAfter: cutAfter, rng: seed | 1))
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { close(fd); throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
        let listener = fd
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { close(listener); return }
                self.serve(client)
            }
        }.start()
    }

    public var url: String { "http://127.0.0.1:\(port)" }
    public var cuts: Int { state.withLock { $0.cuts } }
    public var connections: Int { state.withLock { $0.connections } }
    /// Bytes the proxy has carried from clients to the server, and from the server back.
    public var bytesUp: Int64 { state.withLock { $0.bytesUp } }
    public var bytesDown: Int64 { state.withLock { $0.bytesDown } }
    public func set(down: Bool) { state.withLock { $0.down = down } }
    public func set(cutAfter: ClosedRange<Int>?) { state.withLock { $0.cutAfter = cutAfter } }
    /// From now, `n` more connections, then none.
    public func goDown(afterMore n: Int) { state.withLock { $0.downAfter = $0.connections + n } }
    public func comeBack() { state.withLock { $0.downAfter = nil; $0.down = false } }
    public func stop() { shutdown(fd, Int32(SHUT_RDWR)) }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        return a
    }

    private func serve(_ client: Int32) {
        let (down, limit): (Bool, Int?) = state.withLock { s in
            s.connections += 1
            let down = s.down || s.downAfter.map { s.connections > $0 } ?? false
            guard let range = s.cutAfter else { return (down, nil) }
            s.rng = s.rng &* 6364136223846793005 &+ 1442695040888963407
            return (down, range.lowerBound + Int((s.rng >> 33) % UInt64(range.count)))
        }
        if down { close(client); return }
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: UInt16(upstream))
        let connected = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(server); close(client); return }
        let (rate, latency, stall) = state.withLock { ($0.rate, $0.latency, $0.stall) }
        let link = Link(client: client, server: server, budget: limit, rate: rate, latency: latency, stall: stall,
                        onCut: { [self] in state.withLock { $0.cuts += 1 } },
                        carried: { [self] up, n in state.withLock { if up { $0.bytesUp += Int64(n) } else { $0.bytesDown += Int64(n) } } })
        let done = DispatchGroup()
        for (from, to) in [(client, server), (server, client)] {
            done.enter()
            Thread { link.pump(from, to); done.leave() }.start()
        }
        Thread { done.wait(); close(client); close(server) }.start()
    }
}

/// One proxied connection: the bytes it may still carry (both directions together) and its end.
/// Each direction is a reader, which takes bytes as they come and stamps them, and a writer,
/// which passes each piece on once its latency has passed, at the link's rate, with stalls.
private final class Link: @unchecked Sendable {
    let client: Int32, server: Int32
    private let lock = NSLock()
    private var budget: Int?
    private var closed = false
    private let onCut: () -> Void
    private let rate: Int?
    private let latency: Double
    private let stall: FaultProxy.Stall?
    private let carried: (Bool, Int) -> Void

    init(client: Int32, server: Int32, budget: Int?, rate: Int?, latency: Double, stall: FaultProxy.Stall?,
         onCut: @escaping () -> Void, carried: @escaping (Bool, Int) -> Void) {
        self.carried = carried
        self.client = client
        self.server = server
        self.budget = budget
        self.rate = rate
        self.latency = latency
        self.stall = stall
        self.onCut = onCut
    }

    func finish(cut: Bool) {
        let first = lock.withLock { defer { closed = true }; return !closed }
        guard first else { return }
        if cut { onCut() }
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(server, Int32(SHUT_RDWR))
    }

    /// A piece in flight: its bytes, when it may leave, and whether the link ends after it
    /// (cut: the budget ran out; or closed: the sender closed).
    private struct Piece {
        var bytes: [UInt8]
        var due: Date
        var end: End?
        enum End { case cut, closed }
    }

    /// The pieces between a direction's reader and its writer: at most `capacity` bytes, so a
    /// stalled or slow writer holds the sender back, as a real link's buffers do.
    private final class Line: @unchecked Sendable {
        private let condition = NSCondition()
        private var pieces: [Piece] = []
        private var bytes = 0
        private let capacity = 32_768
        func put(_ piece: Piece) {
            condition.withLock {
                while bytes >= capacity { condition.wait() }
                pieces.append(piece)
                bytes += piece.bytes.count
                condition.broadcast()
            }
        }
        func take() -> Piece {
            condition.withLock {
                while pieces.isEmpty { condition.wait() }
                let piece = pieces.removeFirst()
                bytes -= piece.bytes.count
                condition.broadcast()
                return piece
            }
        }
    }

    func pump(_ from: Int32, _ to: Int32) {
        let line = Line()
        let written = DispatchSemaphore(value: 0)
        let writer = Thread { [self] in
            defer { written.signal() }
            var sinceStall = 0
            while true {
                let piece = line.take()
                let wait = piece.due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                // A slow link passes small pieces with pauses between them.
                let step = rate.map { max(1, min(16_384, $0 / 10)) } ?? piece.bytes.count
                var sent = 0
                while sent < piece.bytes.count {
                    let n = min(step, piece.bytes.count - sent)
                    var off = 0
                    while off < n {
                        let m = piece.bytes.withUnsafeBytes { send(to, $0.baseAddress! + sent + off, n - off, Int32(MSG_NOSIGNAL)) }
                        if m <= 0 { finish(cut: false); return }
                        off += m
                    }
                    sent += n
                    carried(from == client, n)
                    if let rate { Thread.sleep(forTimeInterval: Double(n) / Double(rate)) }
                    if let stall {
                        sinceStall += n
                        if sinceStall >= stall.everyBytes { sinceStall = 0; Thread.sleep(forTimeInterval: stall.seconds) }
                    }
                }
                if let end = piece.end { finish(cut: end == .cut); return }
            }
        }
        writer.start()
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            let due = Date().addingTimeInterval(latency)
            var piece: Piece
            if n <= 0 {
                piece = Piece(bytes: [], due: due, end: .closed)
            } else {
                let allowed = lock.withLock { () -> Int in
                    guard let left = budget else { return n }
                    let k = min(left, n)
                    budget = left - k
                    return k
                }
                piece = Piece(bytes: Array(buffer[0..<allowed]), due: due, end: allowed < n ? .cut : nil)
            }
            line.put(piece)
            if piece.end != nil { break }
        }
        // The writer ends the link when it has passed the last piece, or fails to send once the
        // other direction has ended it; the sockets are closed only after that.
        written.wait()
    }
}

/// A TCP port on 127.0.0.1 free a moment ago (for a server process that needs a number).
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return Int(UInt16(bigEndian: a.sin_port))
}

/// Waits until something accepts connections on 127.0.0.1:`port` (at most `seconds`).
public func waitForLoopbackPort(_ port: Int, seconds: Double = 20) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if ok { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return false
}
