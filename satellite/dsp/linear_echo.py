"""Linear acoustic echo cancellation: a partitioned-block frequency-domain adaptive filter, numpy only.

Why it exists: WebRTC's AEC3 (``satellite/dsp/echo.py``) ends with a residual echo suppressor that
cannot be tuned from Python, and in double talk it also removes the person's voice, so "Hey Jarvis"
said over our own answer is often missed (``bench/echo_wake.py`` measures it). This canceller only
subtracts its estimate of the echo; the person's voice passes at its own level.

The algorithm is the multidelay block frequency-domain filter (MDF; Soo and Pang, 1990), the one
speex uses, written here from the literature:

- frames of ``FRAME`` samples, FFTs of twice that (overlap-save); the echo path is split into
  ``partitions`` blocks of one frame each, so a 320 ms tail costs 20 complex multiply-adds per bin;
- the update is NLMS in each frequency bin, normalised by the far-end power the whole filter holds
  in that bin, and gradient-constrained (each partition's impulse response stays one frame long, so
  the filter is a linear convolution, not a circular one);
- the step size in each bin is the ratio of residual echo to error (Valin, "On adjusting the
  learning rate in frequency domain echo cancellation with double-talk", 2007): the residual echo
  is ``leak * |echo estimate|^2``, with ``leak`` learnt as the regression of the error power on the
  echo estimate power. When the person talks, the error is much larger than the residual echo, so
  the filter nearly freezes instead of learning the voice as echo;
- two filters (Ochiai's two-path scheme): the background filter adapts, the foreground filter makes
  the output. The background is copied to the foreground when it cancels better, and put back to
  the foreground when double talk has pushed it off course.

The output is ``mic - echo estimate`` with no residual echo suppression, plus two guards for the
wake model, which listens to shape, not level (a faint but clean copy of our own "Jarvis" scores
like a loud one):

- a noise floor at ``NOISE_FLOOR_DBFS``, about a real microphone's self-noise, so what is left of the
  echo after a good cancellation is buried as it would be in a room;
- until the filter has converged once (the first 0.3-1 s of playback after start), frames in which
  the loudspeaker plays are replaced by that floor, as WebRTC's suppressor would: an answer that
  starts with "Hey Jarvis" must not wake us while the filter still learns. Muting later, whenever
  the leak estimate rises, was tried and lost more barge-ins than it saved (the onset of double
  talk and the loudspeaker's distortion both raise it).
"""

from __future__ import annotations

import numpy as np

from protocol.audio import MIC_FORMAT

FRAME = 256
"""Samples per adaptation step (16 ms at 16 kHz); the satellite's 80 ms blocks are five frames."""
FULL_SCALE = 32768.0
MU_MAX = 0.5
"""Largest step size in a bin once converged (1 would remove all of this frame's error: too jumpy with noise)."""
MU_START = 1.0
"""Step size until the first convergence, lowered when the error is louder than the far end (double talk)."""
LEAK_MIN, LEAK_MAX = 0.005, 0.5
"""Bounds on the share of the echo estimate that is taken to be still wrong."""
FAR_END_FLOOR_DBFS = -65.0
"""No adaptation while the loudspeaker is quieter than this (nothing to learn the echo path from)."""
NOISE_FLOOR_DBFS = -70.0
"""White noise added to the output: a quiet microphone's self-noise."""
SPECTRUM_SMOOTHING = 0.35
"""Weight of the new frame in the per-bin power averages (about three frames)."""
LEAK_RATE = 0.05
"""How fast the leak estimate follows, at most; it slows further when the error dwarfs the echo."""
REVERT_RATIO = 4.0
"""Background error this many times the foreground's (6 dB) over a few frames: the background diverged."""


class LinearEchoCanceller:
    """``process(mic, played) -> mic with the echo of played removed``, 16 kHz 16-bit mono.

    ``played`` must be what the loudspeaker plays in the same samples as ``mic`` was captured (the
    audio backends give exactly that); the echo may arrive later by up to ``tail_ms``. Audio is
    handled in frames of ``FRAME`` samples; a remainder is kept for the next call, so the output is
    as long as the whole frames received (always the input's length for 80 ms blocks).
    """

    def __init__(self, tail_ms: float = 320.0, *, noise_floor_dbfs: float | None = NOISE_FLOOR_DBFS,
                 mute_until_converged: bool = True, seed: int = 0) -> None:
        self.partitions = max(1, int(np.ceil(tail_ms / 1000 * MIC_FORMAT.rate / FRAME)))
        bins = FRAME + 1
        shape = (self.partitions, bins)
        self._far_spectra = np.zeros(shape, dtype=np.complex128)  # newest first
        self._background = np.zeros(shape, dtype=np.complex128)
        self._foreground = np.zeros(shape, dtype=np.complex128)
        self._far_previous = np.zeros(FRAME)
        self._far_held = np.zeros(bins)  # far-end power per bin summed over the partitions
        self._far_power = np.zeros(bins)
        self._error_power = np.zeros(bins)
        self._echo_power = np.zeros(bins)
        self._error_mean = np.zeros(bins)
        self._echo_mean = np.zeros(bins)
        self._cross = 0.0
        self._echo_var = 0.0
        self.leak = LEAK_MAX
        self._learnt = 0.0
        self.converged = False
        """The start-up step has done its work; from now on the step follows the leak estimate."""
        self._fore_error = 0.0
        self._back_error = 0.0
        self._pending_mic = np.zeros(0, dtype=np.int16)
        self._pending_far = np.zeros(0, dtype=np.int16)
        self._mute_until_converged = mute_until_converged
        self._noise = np.random.default_rng(seed)
        self._noise_sigma = 0.0 if noise_floor_dbfs is None else 10 ** (noise_floor_dbfs / 20)
        self._far_floor = 2 * FRAME * 10 ** (FAR_END_FLOOR_DBFS / 10)  # per-bin power of such a frame

    def process(self, mic: bytes, played: bytes) -> bytes:
        near = np.concatenate((self._pending_mic, np.frombuffer(mic, dtype=np.int16)))
        far = np.concatenate((self._pending_far, np.frombuffer(played, dtype=np.int16)))
        whole = min(near.size, far.size) // FRAME * FRAME
        self._pending_mic, self._pending_far = near[whole:].copy(), far[whole:].copy()
        out = self._noise.normal(0.0, self._noise_sigma, whole) if self._noise_sigma else np.zeros(whole)
        for start in range(0, whole, FRAME):
            out[start:start + FRAME] += self._frame(near[start:start + FRAME] / FULL_SCALE,
                                                    far[start:start + FRAME] / FULL_SCALE)
        return np.clip(np.round(out * FULL_SCALE), -32768, 32767).astype(np.int16).tobytes()

    def _frame(self, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
        self._far_spectra[1:] = self._far_spectra[:-1]
        self._far_spectra[0] = np.fft.rfft(np.concatenate((self._far_previous, far)))
        self._far_previous = far
        self._far_held = np.sum(self._far_spectra.real ** 2 + self._far_spectra.imag ** 2, axis=0)
        fore_error = mic - self._echo(self._foreground)
        if np.dot(far, far) * 2 < self._far_floor:  # the loudspeaker is silent: nothing to learn
            return fore_error
        back_echo = self._echo(self._background)
        back_error = mic - back_echo
        self._adapt(back_error, back_echo)
        out = self._choose_filter(fore_error, back_error)
        return out if self.converged or not self._mute_until_converged else np.zeros(FRAME)

    def _echo(self, filters: np.ndarray) -> np.ndarray:
        """Overlap-save: the second half of the inverse FFT is the linear convolution of this frame."""
        return np.fft.irfft(np.einsum("pb,pb->b", filters, self._far_spectra))[FRAME:]

    def _adapt(self, error: np.ndarray, echo: np.ndarray) -> None:
        zeros = np.zeros(FRAME)
        error_spectrum = np.fft.rfft(np.concatenate((zeros, error)))
        error_power = np.abs(error_spectrum) ** 2
        echo_power = np.abs(np.fft.rfft(np.concatenate((zeros, echo)))) ** 2
        self._far_power += SPECTRUM_SMOOTHING * (np.abs(self._far_spectra[0]) ** 2 - self._far_power)
        self._error_power += SPECTRUM_SMOOTHING * (error_power - self._error_power)
        self._echo_power += SPECTRUM_SMOOTHING * (echo_power - self._echo_power)
        self._update_leak(error_power, echo_power)
        # NLMS per bin, normalised by the far-end power the whole filter holds there (speech comes in
        # bursts: the newest frame alone would overstate or understate it, and the filter diverges).
        gain = self._step_size() / (self._far_held + self._far_floor)
        gradient = np.conj(self._far_spectra) * (gain * error_spectrum)
        impulse = np.fft.irfft(gradient, axis=1)
        impulse[:, FRAME:] = 0.0  # the constraint: a partition's response is one frame long
        self._background += np.fft.rfft(impulse, axis=1)

    def _update_leak(self, error_power: np.ndarray, echo_power: np.ndarray) -> None:
        """How much of the echo estimate is still wrong: the regression of error power on echo power.

        Only the fluctuations around a slow average count, and the estimate learns more slowly when
        the error is much larger than the echo estimate (the person is talking, which is not leak).
        """
        self._error_mean += 0.05 * (error_power - self._error_mean)
        self._echo_mean += 0.05 * (echo_power - self._echo_mean)
        d_error, d_echo = error_power - self._error_mean, echo_power - self._echo_mean
        rate = LEAK_RATE * min(1.0, echo_power.sum() / (error_power.sum() + 1e-12))
        self._cross += rate * (float(np.dot(d_error, d_echo)) - self._cross)
        self._echo_var += rate * (float(np.dot(d_echo, d_echo)) - self._echo_var)
        if self._echo_var > 0:
            self.leak = float(np.clip(self._cross / self._echo_var, LEAK_MIN, LEAK_MAX))

    def _step_size(self) -> np.ndarray | float:
        if not self.converged:
            # The echo estimate means nothing yet, so neither does the leak: a fixed step, smaller
            # when the error is louder than the far end (someone talks, or the room is loud).
            far = float(self._far_power.sum())
            step = MU_START * min(1.0, far / (4.0 * self._error_power.sum() + 1e-12))
            self._learnt += step
            self.converged = self._learnt >= self.partitions
            return step
        residual = self.leak * self._echo_power
        return np.minimum(MU_MAX, residual / (self._error_power + 1e-12))

    def _choose_filter(self, fore_error: np.ndarray, back_error: np.ndarray) -> np.ndarray:
        """Two-path: keep the filter that cancels better; undo a background that double talk spoiled.

        Returns this frame's output: the error of whichever filter is now the foreground.
        """
        self._fore_error = 0.6 * self._fore_error + 0.4 * float(np.dot(fore_error, fore_error))
        self._back_error = 0.6 * self._back_error + 0.4 * float(np.dot(back_error, back_error))
        if self._back_error < 0.9 * self._fore_error:
            self._foreground[:] = self._background
            self._fore_error = self._back_error
            return back_error
        if self.converged and self._back_error > REVERT_RATIO * self._fore_error:
            self._background[:] = self._foreground
            self._back_error = self._fore_error
        return fore_error
