"""Reference implementations of the heart-sound DSP steps that are not a single
library call, used by ``make_dsp_fixtures.py`` to produce the fixtures the Swift
audio front end is tested against.

Everything here works in float64 on 1-D numpy arrays. Each function documents its
exact arithmetic so the Swift side can be written from this text alone.

Sources
-------
Springer D.B., Tarassenko L., Clifford G.D. "Logistic Regression-HSMM-Based Heart
Sound Segmentation", IEEE Trans. Biomed. Eng. 63(4):822-832, 2016, and the MATLAB
code published with it (``schmidt_spike_removal.m``,
``Homomorphic_Envelope_with_Hilbert.m``, ``getHeartRateSchmidt.m``). The spike
removal method itself is from Schmidt S.E. et al., "Segmentation of heart sound
recordings by a duration-dependent hidden Markov model", Physiol. Meas. 31:513-529,
2010.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

__all__ = [
    "schmidt_spike_removal",
    "homomorphic_envelope",
    "hilbert_envelope",
    "autocorrelation_fft",
    "matlab_round",
]


def matlab_round(v: float) -> int:
    """MATLAB ``round``: halves go away from zero (Python's ``round`` goes to even)."""
    return int(np.sign(v) * np.floor(abs(v) + 0.5))


def schmidt_spike_removal(x: np.ndarray, fs: float, *, max_iterations: int | None = None):
    """Schmidt spike removal, a line-by-line port of Springer's
    ``schmidt_spike_removal.m``.

    Algorithm (0-based indices; ``x`` has ``N`` samples):

    1. ``W = round(fs / 2)`` (500 ms; MATLAB rounding, halves away from zero).
    2. ``F = N // W`` whole windows; window ``j`` is ``x[j*W : (j+1)*W]``. The
       ``N - F*W`` trailing samples are never examined and are copied unchanged.
       If ``F == 0`` the output equals the input.
    3. ``MAA[j] = max(|window j|)`` (maximum absolute amplitude).
    4. While any ``MAA[j] > 3 * median(MAA)`` (median of an even count is the
       mean of the two middle values; strict ``>``):

       a. ``j`` = index of the largest MAA (first one on ties);
       b. ``p`` = index within window ``j`` of its largest ``|sample|``
          (first one on ties);
       c. zero crossings of the window: ``zc[i] = |sign(w[i+1]) - sign(w[i])| > 1``
          for ``i = 0 .. W-2`` and ``zc[W-1] = False``. ``sign`` is -1/0/+1, so only a
          strict change between a positive and a negative sample counts; a sample
          that is exactly 0 never forms a crossing;
       d. ``start`` = the largest ``i <= p`` with ``zc[i]``, or 0 if there is none;
       e. ``end`` = the smallest ``i > p`` with ``zc[i]``, or ``W-1`` if none;
       f. set ``w[start ... end]`` (both ends inclusive) to ``0.0001`` (not 0:
          Springer's constant);
       g. recompute ``MAA``.

    5. Output = the windows concatenated, followed by the untouched trailing samples.

    Deviation from the MATLAB code, for safety only: if an iteration leaves the
    window unchanged (this happens only when ``median(MAA)`` is 0 or tiny, e.g. a
    mostly silent recording, where MATLAB would loop forever) the loop stops. None
    of the fixture inputs reaches that branch; ``info["stopped_unchanged"]`` says
    whether it was taken.

    Returns ``(y, info)`` where ``info`` lists each removal as
    ``(window, spike_index_in_window, start, end)``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    w = matlab_round(fs / 2.0)
    n_frames = n // w
    info = {"window_size": w, "n_windows": n_frames, "trailing_samples": n - n_frames * w,
            "removals": [], "stopped_unchanged": False}
    if n_frames == 0:
        return x.copy(), info
    frames = x[: n_frames * w].reshape(n_frames, w).copy()
    maa = np.abs(frames).max(axis=1)
    limit = max_iterations if max_iterations is not None else n + 10
    iterations = 0
    while np.any(maa > np.median(maa) * 3.0):
        iterations += 1
        if iterations > limit:
            raise RuntimeError("schmidt_spike_removal: iteration limit reached")
        j = int(np.argmax(maa))
        frame = frames[j]
        p = int(np.argmax(np.abs(frame)))
        zc = np.zeros(w, dtype=bool)
        zc[:-1] = np.abs(np.diff(np.sign(frame))) > 1
        before = np.flatnonzero(zc[: p + 1])
        start = int(before[-1]) if before.size else 0
        after = np.flatnonzero(zc[p + 1:])
        end = int(after[0]) + p + 1 if after.size else w - 1
        old = frame[start: end + 1].copy()
        frame[start: end + 1] = 0.0001
        info["removals"].append((j, p, start, end))
        if np.array_equal(old, frame[start: end + 1]):
            info["stopped_unchanged"] = True
            break
        maa = np.abs(frames).max(axis=1)
    y = np.concatenate([frames.reshape(-1), x[n_frames * w:]])
    return y, info


def hilbert_envelope(x: np.ndarray) -> np.ndarray:
    """``|scipy.signal.hilbert(x)|``: magnitude of the analytic signal.

    With ``N = len(x)`` and ``X = DFT_N(x)`` (a length-N DFT, no zero padding, N need
    not be a power of two): ``H[0] = 1``; for even N ``H[k] = 2`` for ``1 <= k < N/2``,
    ``H[N/2] = 1``; for odd N ``H[k] = 2`` for ``1 <= k <= (N-1)/2``; every other
    ``H[k] = 0``. Analytic signal ``a = IDFT_N(X * H)``; envelope ``|a|``.
    """
    return np.abs(scipy.signal.hilbert(np.asarray(x, dtype=np.float64)))


def homomorphic_envelope(x: np.ndarray, fs: float, lpf_hz: float = 8.0,
                         *, first_sample_fix: bool = True) -> np.ndarray:
    """Homomorphic envelope as in Springer's ``Homomorphic_Envelope_with_Hilbert.m``:

        [b, a] = butter(1, lpf_hz, 'low', fs=fs)          # 1st-order Butterworth
        env = exp(filtfilt(b, a, log(|hilbert(x)|)))
        env[0] = env[1]                                    # Springer's "spurious first sample" fix

    ``filtfilt`` is scipy's with its defaults (``padtype='odd'``,
    ``padlen = 3 * max(len(a), len(b)) = 6``). MATLAB's own filtfilt pads with
    ``3 * (filter order) = 3`` samples instead, so this reference matches scipy,
    not MATLAB, in the first and last few samples.
    """
    b, a = scipy.signal.butter(1, lpf_hz, btype="low", fs=fs)
    env = np.exp(scipy.signal.filtfilt(b, a, np.log(hilbert_envelope(x))))
    if first_sample_fix and env.shape[0] > 1:
        env[0] = env[1]
    return env


def autocorrelation_fft(x: np.ndarray) -> np.ndarray:
    """Normalised (biased) autocorrelation for lags ``0 .. N-1`` computed by FFT.

        y    = x - mean(x)
        r[k] = sum_{n=0}^{N-1-k} y[n] * y[n+k]      (k = 0 .. N-1)
        out  = r / r[0]                              (so out[0] == 1)

    Computed as ``irfft(|rfft(y, L)|**2, L)[:N]`` with ``L`` the next power of two
    ``>= 2N - 1`` (zero padding avoids circular wrap-around; any ``L >= 2N-1`` gives
    the same numbers up to rounding). This equals MATLAB's ``xcorr(y, 'coeff')`` at
    non-negative lags; Springer's ``getHeartRateSchmidt.m`` keeps lags ``1 .. N-1`` of
    it (drops lag 0) and applies it to the homomorphic envelope.
    """
    y = np.asarray(x, dtype=np.float64)
    y = y - y.mean()
    n = y.shape[0]
    size = 1 << (2 * n - 2).bit_length()  # next power of two >= 2n-1
    spec = np.fft.rfft(y, size)
    r = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, size)[:n]
    if not r[0] > 0:
        raise ValueError("autocorrelation of a constant signal is undefined")
    return r / r[0]
