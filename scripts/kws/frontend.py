"""Log-mel front end of the bundled keyword model, shared by training and export.

Training uses torch.stft (fast). The exported ONNX graph computes the same
spectrum (to ~2e-5) as a strided convolution with windowed DFT kernels, built
only from ops every ONNX runtime has (no STFT/DFT op), so the node feeds the
raw waveform through its generic `input_values` path.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000  # the model looks at one second
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
F_MIN, F_MAX = 20.0, 7600.0
LOG_EPS = 1e-6


def _hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


def mel_filterbank():
    """HTK-style triangular filters, [n_fft/2+1, n_mels]."""
    n_bins = N_FFT // 2 + 1
    fft_freqs = torch.linspace(0, SAMPLE_RATE / 2, n_bins, dtype=torch.float64)
    mel_pts = torch.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2, dtype=torch.float64)
    hz_pts = torch.tensor([_mel_to_hz(float(m)) for m in mel_pts], dtype=torch.float64)
    fb = torch.zeros(n_bins, N_MELS, dtype=torch.float64)
    for i in range(N_MELS):
        lo, mid, hi = hz_pts[i], hz_pts[i + 1], hz_pts[i + 2]
        up = (fft_freqs - lo) / (mid - lo)
        down = (hi - fft_freqs) / (hi - mid)
        fb[:, i] = torch.clamp(torch.minimum(up, down), min=0.0)
    return fb.float()


class LogMelTrain(nn.Module):
    """[B, 16000] waveform -> [B, 1, N_MELS, 101] log-mel, via torch.stft. `level` (recipe v16): each
    clip first set to the training level (set_level), as the exported graph does."""

    def __init__(self, level=False):
        super().__init__()
        self.level = level
        self.register_buffer("window", torch.hann_window(WIN, periodic=True))
        self.register_buffer("fb", mel_filterbank())

    def forward(self, wav):
        if self.level:
            wav = set_level(wav)
        spec = torch.stft(wav, N_FFT, HOP, WIN, self.window, center=True, pad_mode="constant",
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2  # [B, 257, T]
        mel = torch.matmul(power.transpose(1, 2), self.fb).transpose(1, 2)
        return torch.log(mel + LOG_EPS).unsqueeze(1)


class LogMelExport(nn.Module):
    """Same numbers as LogMelTrain, built from ops every ONNX runtime has."""

    def __init__(self):
        super().__init__()
        self.register_buffer("fb", mel_filterbank())

    def forward(self, wav):
        n_bins = N_FFT // 2 + 1
        # torch.stft(center=True) centres a 400-sample Hann window inside a
        # 512-point frame: taps sit at offsets 56..455 of each padded frame.
        n = torch.arange(WIN, dtype=torch.float32)
        k = torch.arange(n_bins, dtype=torch.float32)
        window = 0.5 - 0.5 * torch.cos(2.0 * math.pi * n / WIN)
        offset = (N_FFT - WIN) // 2
        angle = 2.0 * math.pi * k.unsqueeze(1) * (n.unsqueeze(0) + offset) / N_FFT
        real_k = (torch.cos(angle) * window).unsqueeze(1)
        imag_k = (-torch.sin(angle) * window).unsqueeze(1)
        kernels = torch.cat([real_k, imag_k], dim=0)  # [514, 1, 400]
        x = F.pad(wav.unsqueeze(1), (N_FFT // 2, N_FFT // 2))
        x = x[:, :, offset:]  # frame t starts at t*HOP + offset
        spec = F.conv1d(x, kernels, stride=HOP)
        real, imag = spec[:, :n_bins], spec[:, n_bins:]
        power = real * real + imag * imag
        mel = torch.matmul(power.transpose(1, 2), self.fb).transpose(1, 2)
        return torch.log(mel + LOG_EPS).unsqueeze(1)


# The level step (recipe v13.1, session 25; the rule is in the model card): the window the model
# reads is scaled so that its peak is LEVEL_PEAK, by at most LEVEL_MAX_GAIN_DB. LEVEL_PEAK is the
# level the net was trained at: the median peak of the training split's real commands (0.389)
# times the median of the training gain (-12 to +6 dB: -3 dB). The cap keeps digital silence near
# silence. scripts/kws/level.py inserts the same step into an exported ONNX file.
LEVEL_PEAK = 0.275
LEVEL_MAX_GAIN_DB = 30.0
LEVEL_EPS = 1e-6


def set_level(wav, peak=LEVEL_PEAK, max_gain_db=LEVEL_MAX_GAIN_DB):
    """[B, samples] -> the same clips, each scaled so its peak is `peak` (gain at most `max_gain_db`)."""
    top = wav.abs().amax(dim=1, keepdim=True).clamp_min(LEVEL_EPS)
    return wav * torch.clamp(peak / top, max=10 ** (max_gain_db / 20))


def loudest_window(wav):
    """Pick the loudest one-second window of a clip of any length (zero-padded
    when shorter), so the one-second model handles 0.25 s to minutes of audio."""
    x = F.pad(wav, (0, CLIP_SAMPLES))
    frame_energy = F.avg_pool1d((x * x).unsqueeze(1), HOP, HOP)  # [B, 1, F]
    frames = CLIP_SAMPLES // HOP
    window_energy = F.avg_pool1d(frame_energy, frames, 1).squeeze(1)  # [B, W]
    start = torch.argmax(window_energy, dim=1) * HOP  # first maximum
    idx = start.unsqueeze(1) + torch.arange(CLIP_SAMPLES).unsqueeze(0)
    return torch.gather(x, 1, idx)
