internal import CFFTW

/// Doubles in memory from `fftw_malloc`, aligned as FFTW's SIMD plans need. Zeroed.
final class AlignedBuffer {
    let pointer: UnsafeMutablePointer<Double>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = fftw_alloc_real(max(count, 1))!
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer holding a copy of `values` (written once, not zeroed first).
    init(_ values: [Double]) {
        count = values.count
        pointer = fftw_alloc_real(max(count, 1))!
        pointer.initialize(to: 0)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// The first `count` values as an array.
    func array(_ count: Int? = nil) -> [Double] { Array(UnsafeBufferPointer(start: pointer, count: count ?? self.count)) }

    deinit { fftw_free(pointer) }
}

/// Transforms on SIMD plans (no `FFTW_UNALIGNED`), for `AlignedBuffer`s only: the plans
/// assume the alignment `fftw_malloc` gives. Same conventions as `FFT`.
extension FFT {
    /// The SIMD plan of `kind` for `count`, to be passed to the functions below.
    static func alignedPlan(_ kind: PlanCache.Kind, count: Int) -> PlanCache.Plan {
        PlanCache.shared.plan(kind, count, aligned: true)
    }

    /// Real-to-complex DFT (`count/2 + 1` interleaved bins into `output`).
    static func forwardReal(_ input: AlignedBuffer, _ output: AlignedBuffer, plan: PlanCache.Plan) {
        output.pointer.withMemoryRebound(to: fftw_complex.self, capacity: output.count / 2) { out in
            fftw_execute_dft_r2c(plan.raw, input.pointer, out)
        }
    }

    /// Complex-to-real inverse DFT. Destroys `input`.
    static func inverseReal(_ input: AlignedBuffer, _ output: AlignedBuffer, plan: PlanCache.Plan) {
        input.pointer.withMemoryRebound(to: fftw_complex.self, capacity: input.count / 2) { inp in
            fftw_execute_dft_c2r(plan.raw, inp, output.pointer)
        }
    }

    /// Complex DFT, in the direction the plan was made for.
    static func complex(_ input: AlignedBuffer, _ output: AlignedBuffer, plan: PlanCache.Plan) {
        input.pointer.withMemoryRebound(to: fftw_complex.self, capacity: input.count / 2) { inp in
            output.pointer.withMemoryRebound(to: fftw_complex.self, capacity: output.count / 2) { out in
                fftw_execute_dft(plan.raw, inp, out)
            }
        }
    }
}
