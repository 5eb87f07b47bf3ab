"""Stand-in "generators": 2x upsampling decoders that leave the spectral fingerprints of real ones.

Generative decoders build an image from a coarser latent and upsample it with
nearest-neighbour or transposed convolutions; both leave periodic traces
(checkerboards, replicated spectra) that detectors learn. Here the latent is the
crop itself at half resolution, so content, brightness and colour stay those of
the real crop and only the upsampling fingerprint differs.
"""

from __future__ import annotations

import numpy as np

GENERATORS: tuple[str, ...] = ("nearest", "transposed_conv3", "transposed_conv4")
# Std (grey levels) of per-pixel noise injected at the latent resolution, as StyleGAN-like
# decoders do; upsampled with the rest, it carries the fingerprint into flat regions too.
LATENT_NOISE: tuple[float, float] = (3.0, 8.0)


def downsample2(image: np.ndarray) -> np.ndarray:
    """(H, W, C) float -> (H/2, W/2, C) by 2x2 box averaging: the decoder's latent grid."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    x = image[:h, :w]
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) / 4.0


def upsample2(latent: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Zero-insertion then a separable kernel: exactly a stride-2 transposed convolution."""
    pad = 2  # edge-padded latent border, so the output's border is not darkened
    latent = np.pad(latent, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    h, w, c = latent.shape
    up = np.zeros((2 * h, 2 * w, c), dtype=np.float64)
    up[0::2, 0::2] = latent
    up = _transposed_conv_axis(_transposed_conv_axis(up, kernel, 0), kernel, 1)
    return up[2 * pad : -2 * pad, 2 * pad : -2 * pad]


def _transposed_conv_axis(up: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """out[n] = sum_j kernel[j] * up[n + offset - j]; offset centres the kernel on the grid."""
    taps, n = len(kernel), up.shape[axis]
    offset = (taps - 1) // 2
    padded = np.pad(up, [(taps, taps) if a == axis else (0, 0) for a in range(up.ndim)])
    out = np.zeros_like(up)
    for j, weight in enumerate(kernel):
        start = taps + offset - j
        out += weight * np.take(padded, np.arange(start, start + n), axis=axis)
    return out


def generator_kernel(kind: str, rng: np.random.Generator) -> np.ndarray:
    """The 1-D upsampling kernel of one generator family, with per-sample variation."""
    if kind == "nearest":
        kernel = np.array([1.0, 1.0])
    elif kind == "transposed_conv3":
        # [a, 1, a] with a != 1/2: uneven overlap, the classic checkerboard.
        a = rng.uniform(0.30, 0.42) if rng.random() < 0.5 else rng.uniform(0.58, 0.70)
        kernel = np.array([a, 1.0, a])
    elif kind == "transposed_conv4":
        # A "learned" 4-tap kernel: bilinear plus per-sample weight noise.
        kernel = np.array([1.0, 3.0, 3.0, 1.0]) + rng.normal(0.0, 0.5, size=4)
    else:
        raise ValueError(f"unknown generator {kind!r}; choose one of {GENERATORS}")
    return kernel * (2.0 / kernel.sum())  # zero insertion halves the mean; restore it


def generate(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, 3) real crop -> uint8 AI counterpart of the same size and content."""
    height, width = image.shape[:2]
    even = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="symmetric")
    latent = downsample2(even.astype(np.float64))
    sigma = rng.uniform(*LATENT_NOISE)
    latent += rng.normal(0.0, sigma, size=latent.shape[:2])[:, :, None]
    out = upsample2(latent, generator_kernel(kind, rng))[:height, :width]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
