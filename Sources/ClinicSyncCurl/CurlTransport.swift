import CCurl
import ClinicCore
import ClinicSync
import Foundation

/// HTTP for `clinic sync` over libcurl: one easy handle reused for every request (so one
/// connection, kept alive); a connect timeout and a low-speed limit instead of a total
/// timeout (a 2G link may take minutes for a chunk, but a link that moves nothing is cut);
/// any compression libcurl offers; TLS verification always on, with an optional private CA;
/// no redirects followed; only http and https. Not thread-safe: one run uses one transport.
public final class CurlTransport {
    public struct Configuration: Sendable {
        /// The server's base URL, e.g. `https://sync.example.org` or `http://127.0.0.1:8080`.
        public var server: String
        /// The device's bearer token.
        public var token: String
        /// A PEM file of the CA that signed the server's certificate (a private CA); nil: the system's.
        public var caFile: String?
        /// Seconds to establish a connection (TCP and TLS).
        public var connectTimeout = 20
        /// A transfer slower than `lowSpeedLimit` bytes/s for `lowSpeedTime` seconds is cut.
        public var lowSpeedLimit = 32
        public var lowSpeedTime = 60
        /// A response body larger than this is refused (the server never sends one).
        public var maxResponseBytes = 64 << 20

        public init(server: String, token: String, caFile: String? = nil) {
            self.server = server
            self.token = token
            self.caFile = caFile
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        /// Header names in lower case.
        public var headers: [String: String]
    }

    /// Why no HTTP response arrived.
    public enum TransportError: Error, Equatable, Sendable {
        /// No connection, a reset, a timeout, a TLS failure, a truncated response: the message is libcurl's.
        case network(String)
        /// The response body passed `maxResponseBytes`.
        case responseTooLarge
        /// The server URL cannot be used.
        case badURL(String)
    }

    public let configuration: Configuration
    /// Connections opened so far (libcurl's `CURLINFO_NUM_CONNECTS` summed): 1 while the server keeps it alive.
    public private(set) var connectionsOpened = 0
    private let handle: UnsafeMutableRawPointer
    private let base: String

    /// libcurl's global state, set up once per process before any handle (it is not thread-safe).
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

    public init(_ configuration: Configuration) throws(TransportError) {
        guard let url = URL(string: configuration.server), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil, url.query == nil, url.user == nil else {
            throw .badURL("the server address must be http:// or https:// with a host, and no user or query (e.g. https://sync.example.org)")
        }
        guard Self.globalInit == CURLE_OK, let h = curl_easy_init() else { throw .network("libcurl could not start") }
        self.configuration = configuration
        handle = h
        base = configuration.server.hasSuffix("/") ? String(configuration.server.dropLast()) : configuration.server
    }

    deinit { curl_easy_cleanup(handle) }

    /// One request: `path` with its query (e.g. `/v1/changes?after=5`), an optional body, extra headers.
    public func send(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) -> Result<Response, TransportError> {
        curl_easy_reset(handle)  // options only; the connection cache stays
        let sink = Sink(limit: configuration.maxResponseBytes)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        var all = headers
        all["Authorization"] = "Bearer \(configuration.token)"
        all["Expect"] = ""  // no 100-continue round trip before a body
        if body != nil && all["Content-Type"] == nil { all["Content-Type"] = "application/octet-stream" }
        for (name, value) in all.sorted(by: { $0.key < $1.key }) {
            list = curl_slist_append(list, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        let url = base + path
        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(clinic_curl_setopt_string(handle, CURLOPT_URL, url))
        set(clinic_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(clinic_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(clinic_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(clinic_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
        set(clinic_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
        if let ca = configuration.caFile { set(clinic_curl_setopt_string(handle, CURLOPT_CAINFO, ca)) }
        set(clinic_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, configuration.connectTimeout))
        set(clinic_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit))
        set(clinic_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, configuration.lowSpeedTime))
        set(clinic_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""))  // whatever this libcurl decodes
        set(clinic_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
        set(clinic_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque()))
        set(clinic_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            return sink.append(data, size * count) ? size * count : 0
        }))
        set(clinic_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque()))
        set(clinic_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            sink.header(data, size * count)
            return size * count
        }))
        let result: CURLcode = { () -> CURLcode in
            switch method {
            case "GET": set(clinic_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            default: set(clinic_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method))
            }
            guard code == CURLE_OK else { return code }
            guard let body else { return curl_easy_perform(handle) }
            return body.withUnsafeBufferPointer { p -> CURLcode in
                set(clinic_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(p.count)))
                set(clinic_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: p.baseAddress ?? UnsafePointer(bitPattern: 1)!)))
                guard code == CURLE_OK else { return code }
                return curl_easy_perform(handle)
            }
        }()
        if sink.exceeded { return .failure(.responseTooLarge) }
        guard result == CURLE_OK else { return .failure(.network(String(cString: curl_easy_strerror(result)))) }
        var status = 0, connects = 0
        _ = clinic_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = clinic_curl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        connectionsOpened += connects
        // libcurl takes a connection closed inside the response head as the end of a
        // close-delimited answer; a head cut short is a cut link, not an answer.
        guard sink.headComplete else { return .failure(.network("the connection closed inside the server's answer")) }
        if sink.headers["content-encoding"] == nil, let length = sink.headers["content-length"].flatMap(Int.init), length != sink.bytes.count {
            return .failure(.network("the server's answer was cut short"))
        }
        return .success(Response(status: status, body: sink.bytes, headers: sink.headers))
    }

    /// The libcurl version string, for `clinic --version` and bug reports.
    public static var libraryVersion: String { String(cString: curl_version()) }
}

/// Collects a response: body bytes up to a limit, and the last response's headers.
private final class Sink {
    var bytes: [UInt8] = []
    var headers: [String: String] = [:]
    var exceeded = false
    /// The last response's head ended with its blank line.
    var headComplete = false
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func append(_ data: UnsafeMutablePointer<CChar>?, _ n: Int) -> Bool {
        guard bytes.count + n <= limit else { exceeded = true; return false }
        if let data, n > 0 { data.withMemoryRebound(to: UInt8.self, capacity: n) { bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) } }
        return true
    }

    func header(_ data: UnsafeMutablePointer<CChar>?, _ n: Int) {
        guard let data, n > 0 else { return }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
        if line.hasPrefix("HTTP/") { headers = [:]; headComplete = false; return }  // a new response (after a 100): start again
        if line == "\r\n" || line == "\n" { headComplete = true; return }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension CurlTransport: SyncTransport {
    public func exchange(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String]) -> Result<HTTPAnswer, SyncMachine.Failure> {
        switch send(method, path, body: body, headers: headers) {
        case .success(let r): .success(HTTPAnswer(status: r.status, body: r.body, date: r.headers["date"].flatMap(HTTPAnswer.date)))
        case .failure(.network(let message)): .failure(.network(message))
        case .failure(.responseTooLarge): .failure(.refused("the server's answer is larger than any the protocol sends"))
        case .failure(.badURL(let message)): .failure(.refused(message))
        }
    }
}
