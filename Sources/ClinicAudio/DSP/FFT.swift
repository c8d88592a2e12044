internal import CFFTW
import ClinicCore
import Foundation

/// Discrete Fourier transforms on FFTW, in Double.
///
/// FFTW's planner is not thread-safe; only `fftw_execute*` is. Plans are therefore made
/// once per (kind, length) behind a lock, with `FFTW_ESTIMATE | FFTW_UNALIGNED` so that one
/// plan can run on any caller's buffers (`fftw_execute_dft_*` with new arrays), and cached.
/// Complex data is interleaved: `[re0, im0, re1, im1, ...]`. Transforms are unnormalised,
/// like FFTW (an inverse after a forward transform multiplies by n). Internal callers that
/// run many transforms use the SIMD plans of `FFT+Aligned.swift` instead.
public enum FFT {
    /// The FFTW library version, e.g. "fftw-3.3.10-sse2-avx".
    public static var libraryVersion: String { String(cString: clinic_fftw_version()) }

    /// Keeps FFTW's wisdom (which algorithm it chose for each transform) in `path` between
    /// processes, so a new process takes its plans from the file instead of planning again;
    /// `nil` stops. Only a cache: a missing, unreadable or foreign file means planning as usual.
    public static func keepWisdom(in path: String?) { PlanCache.shared.keepWisdom(in: path) }

    /// The default wisdom file: `$XDG_CACHE_HOME/clinic/fftw-wisdom`, else
    /// `~/.cache/clinic/fftw-wisdom`.
    public static var defaultWisdomFile: String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? userHomeDirectory.appending(path: ".cache").path
        return (cache as NSString).appendingPathComponent("clinic/fftw-wisdom")
    }

    /// Real-to-complex DFT of `count` samples from `input` into `count/2 + 1` complex bins.
    public static func forwardReal(
        _ input: UnsafePointer<Double>, _ output: UnsafeMutablePointer<Double>, count: Int
    ) {
        let plan = PlanCache.shared.plan(.realForward, count)
        output.withMemoryRebound(to: fftw_complex.self, capacity: count / 2 + 1) { out in
            fftw_execute_dft_r2c(plan.raw, UnsafeMutablePointer(mutating: input), out)
        }
    }

    /// Complex-to-real inverse DFT of `count/2 + 1` bins into `count` samples. Destroys `input`.
    public static func inverseReal(
        _ input: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<Double>, count: Int
    ) {
        let plan = PlanCache.shared.plan(.realInverse, count)
        input.withMemoryRebound(to: fftw_complex.self, capacity: count / 2 + 1) { inp in
            fftw_execute_dft_c2r(plan.raw, inp, output)
        }
    }

    /// Complex DFT of `count` interleaved values, forward (e^-i) or inverse (e^+i).
    public static func complex(
        _ input: UnsafePointer<Double>, _ output: UnsafeMutablePointer<Double>, count: Int,
        inverse: Bool
    ) {
        let plan = PlanCache.shared.plan(inverse ? .complexInverse : .complexForward, count)
        let inp = UnsafeMutableRawPointer(mutating: input).assumingMemoryBound(to: fftw_complex.self)
        output.withMemoryRebound(to: fftw_complex.self, capacity: count) { out in
            fftw_execute_dft(plan.raw, inp, out)
        }
    }

    /// Real-to-complex DFT of `x`, zero-padded (or cut) to `count`: `count/2 + 1` interleaved bins.
    public static func forwardReal(_ x: [Double], count: Int) -> [Double] {
        var padded = [Double](repeating: 0, count: count)
        for i in 0..<min(count, x.count) { padded[i] = x[i] }
        var out = [Double](repeating: 0, count: 2 * (count / 2 + 1))
        padded.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { forwardReal(p.baseAddress!, $0.baseAddress!, count: count) }
        }
        return out
    }

    /// Inverse of `forwardReal` (unnormalised): `count` real samples from `count/2 + 1` bins.
    public static func inverseReal(_ spectrum: [Double], count: Int) -> [Double] {
        var scratch = spectrum
        var out = [Double](repeating: 0, count: count)
        scratch.withUnsafeMutableBufferPointer { s in
            out.withUnsafeMutableBufferPointer { inverseReal(s.baseAddress!, $0.baseAddress!, count: count) }
        }
        return out
    }

    /// Complex DFT of `count = data.count / 2` interleaved values (unnormalised).
    public static func complex(_ data: [Double], inverse: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer {
                complex(p.baseAddress!, $0.baseAddress!, count: data.count / 2, inverse: inverse)
            }
        }
        return out
    }
}

/// FFTW plans made once and shared. Creation and destruction run under one lock.
final class PlanCache: @unchecked Sendable {
    enum Kind: Hashable { case realForward, realInverse, complexForward, complexInverse }

    /// One FFTW plan; destroyed (under the planner lock) when no caller holds it any more.
    final class Plan: @unchecked Sendable {
        let raw: OpaquePointer
        init(_ raw: OpaquePointer) { self.raw = raw }
        deinit { PlanCache.planner.withLock { fftw_destroy_plan(raw) } }
    }

    static let shared = PlanCache()
    static let planner = NSLock()
    /// Past this many plans the cache is emptied (plans in use live on until released).
    static let capacity = 64
    /// Longer transforms are kept in a small least-recently-used list of `largeCapacity`.
    static let largest = 1 << 15
    static let largeCapacity = 4

    private var plans: [Key: Plan] = [:]
    private var large: [(key: Key, plan: Plan)] = []
    private struct Key: Hashable { var kind: Kind; var count: Int; var aligned: Bool }

    /// The plan for `kind` and `count`. `aligned` plans may use SIMD codelets and run only
    /// on `fftw_malloc`'d buffers (`AlignedBuffer`); the others run on any memory.
    func plan(_ kind: Kind, _ count: Int, aligned: Bool = false) -> Plan {
        precondition(count > 0, "FFT length must be positive")
        var evicted: [Key: Plan] = [:]
        defer { _ = evicted }  // released after the lock is dropped
        PlanCache.planner.lock()
        defer { PlanCache.planner.unlock() }
        let key = Key(kind: kind, count: count, aligned: aligned)
        if let plan = plans[key] { return plan }
        // Whole-recording transforms (Hilbert, autocorrelation) have a length per recording:
        // only the last few such plans are kept (megabytes of twiddle factors each).
        if count > PlanCache.largest {
            if let i = large.firstIndex(where: { $0.key == key }) {
                let entry = large.remove(at: i)
                large.append(entry)
                return entry.plan
            }
            let plan = Plan(make(kind, count, aligned: aligned))
            large.append((key, plan))
            if large.count > PlanCache.largeCapacity { evicted[large[0].key] = large.removeFirst().plan }
            return plan
        }
        if plans.count >= PlanCache.capacity { swap(&evicted, &plans) }
        let plan = Plan(make(kind, count, aligned: aligned))
        plans[key] = plan
        return plan
    }

    // MARK: wisdom kept between processes

    /// The file FFTW's wisdom is kept in between processes, if any (`FFT.keepWisdom`).
    private var wisdomFile: String?
    private var wisdomLoaded = false
    private var wisdomWrites = 0
    /// Plans made from the wisdom file rather than by planning (for tests and benchmarks).
    private(set) var plansFromWisdom = 0

    func keepWisdom(in path: String?) {
        PlanCache.planner.withLock { wisdomFile = path; wisdomLoaded = false }
    }

    /// Drops every cached plan and FFTW's in-memory wisdom (tests: the next plans come from
    /// the wisdom file or from planning, as in a new process).
    func reset() {
        var dropped: [Key: Plan] = [:], droppedLarge: [(key: Key, plan: Plan)] = []
        defer { _ = (dropped, droppedLarge) }  // released after the lock is dropped
        PlanCache.planner.withLock {
            swap(&dropped, &plans); swap(&droppedLarge, &large)
            fftw_forget_wisdom()
            wisdomLoaded = false
            wisdomWrites = 0
            plansFromWisdom = 0
        }
    }

    /// The plan from wisdom when it holds one, else planned (FFTW_ESTIMATE still weighs many
    /// algorithms: about 7 ms for a 40,000-point transform, a quarter of a one-shot
    /// `clinic features` process), then the wisdom file rewritten. A plan from wisdom is the
    /// same algorithm the planner chose, so results are identical. Called under the lock.
    private func make(_ kind: Kind, _ n: Int, aligned: Bool) -> OpaquePointer {
        guard let file = wisdomFile else { return plan(kind, n, aligned: aligned, wisdomOnly: false)! }
        if !wisdomLoaded {
            wisdomLoaded = true
            _ = fftw_import_wisdom_from_filename(file)  // 0 for a missing or unreadable file: plan as usual
        }
        if let plan = plan(kind, n, aligned: aligned, wisdomOnly: true) {
            plansFromWisdom += 1
            return plan
        }
        let plan = plan(kind, n, aligned: aligned, wisdomOnly: false)!
        // A batch over many recordings meets many lengths: only the first few per process
        // are written, so the file stays small (about 1 KB per transform).
        guard wisdomWrites < 32 else { return plan }
        wisdomWrites += 1
        // Written whole or not at all (temporary file, then rename); it is a cache, so a
        // failure only means the next process plans again.
        let directory = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = "\(file).\(getpid()).tmp"
        if fftw_export_wisdom_to_filename(temporary) != 0 {
            if rename(temporary, file) != 0 { unlink(temporary) }
        } else {
            unlink(temporary)
        }
        return plan
    }

    private func plan(_ kind: Kind, _ n: Int, aligned: Bool, wisdomOnly: Bool) -> OpaquePointer? {
        let flags = UInt32(FFTW_ESTIMATE) | (aligned ? 0 : UInt32(FFTW_UNALIGNED)) | (wisdomOnly ? UInt32(FFTW_WISDOM_ONLY) : 0)
        // Planning buffers of the sizes the transform uses (FFTW_ESTIMATE does not touch them).
        let complexCount = kind == .realForward || kind == .realInverse ? n / 2 + 1 : n
        let real = kind == .realForward || kind == .realInverse ? fftw_alloc_real(n)! : nil
        let cplx = fftw_alloc_complex(complexCount)!
        let cplx2 = kind == .complexForward || kind == .complexInverse ? fftw_alloc_complex(n)! : nil
        defer { fftw_free(real); fftw_free(cplx); fftw_free(cplx2) }
        let n32 = Int32(n)
        let plan: OpaquePointer? = switch kind {
        case .realForward: fftw_plan_dft_r2c_1d(n32, real, cplx, flags)
        case .realInverse: fftw_plan_dft_c2r_1d(n32, cplx, real, flags)
        case .complexForward: fftw_plan_dft_1d(n32, cplx, cplx2, FFTW_FORWARD, flags)
        case .complexInverse: fftw_plan_dft_1d(n32, cplx, cplx2, FFTW_BACKWARD, flags)
        }
        guard plan != nil || wisdomOnly else { fatalError("FFTW could not plan a transform of length \(n)") }
        return plan
    }
}
