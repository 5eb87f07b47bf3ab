"""Stand-in neural generators: small convolutional decoders that re-make a real crop.

An image generator's decoder builds its output from a coarse latent through learned
upsampling stages: stride-2 transposed convolutions, nearest or bilinear upsampling followed
by a convolution, or sub-pixel (pixel-shuffle) convolutions. Each stage leaves periodic traces
of its own, which is what detectors learn. These decoders are the same kinds of network, in
miniature: the latent is the real crop averaged down by the decoder's factor, the weights are
random and then trained for 150 Adam steps to reconstruct photo patches, and per-pixel
noise is injected after every stage (as StyleGAN does). The output keeps the crop's content
and colour; only the way its pixels were made differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# name -> upsampling stages (each doubles the resolution); the decoder's factor is 2**stages.
ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "tconv_x2": ("tconv4",),
    "tconv_x4": ("tconv4", "tconv4"),
    "tconv3_nearest_x4": ("tconv3", "nearest"),
    "nearest_conv_x2": ("nearest",),
    "nearest_conv_x4": ("nearest", "nearest"),
    "bilinear_conv_x4": ("bilinear", "bilinear"),
    "pixel_shuffle_x2": ("shuffle",),
    "shuffle_bilinear_x4": ("shuffle", "bilinear"),
}
WIDTH = 8  # channels of every hidden layer
TRAIN_STEPS = 150
TRAIN_BATCH = 8
TRAIN_PATCH = 32  # output pixels per side of a training patch
LEARNING_RATE = 1e-2
NOISE_STD = (0.08, 0.25)  # per-pixel noise after each stage, in units of the [-1, 1] image


class _Upsample(nn.Module):
    """One learned 2x stage of a given kind."""

    def __init__(self, kind: str, width: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "tconv4":
            self.op: nn.Module = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        elif kind == "tconv3":
            self.op = nn.ConvTranspose2d(width, width, 3, stride=2, padding=1, output_padding=1)
        elif kind == "shuffle":
            self.op = nn.Sequential(nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2))
        elif kind in ("nearest", "bilinear"):
            self.op = nn.Conv2d(width, width, 3, padding=1)
        else:
            raise ValueError(f"unknown upsampling stage {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "nearest":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        elif self.kind == "bilinear":
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.op(x)


class Decoder(nn.Module):
    """latent (B, 3, H/f, W/f) in [-1, 1] -> image (B, 3, H, W), noise injected per stage."""

    def __init__(self, stages: Sequence[str], noise_std: float, width: int = WIDTH) -> None:
        super().__init__()
        self.factor = 2 ** len(stages)
        self.noise_std = noise_std
        channels = 3 * self.factor**2 // 2
        self.encode = nn.Conv2d(3, channels, self.factor, stride=self.factor)
        self.lift = nn.Conv2d(channels, width, 3, padding=1)
        self.ups = nn.ModuleList(_Upsample(kind, width) for kind in stages)
        self.refine = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in stages)
        self.to_rgb = nn.Conv2d(width, 3, 3, padding=1)

    def forward(
        self, image: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        x = F.leaky_relu(self.lift(self.encode(image)), 0.2)  # (B, C, H/f, W/f)
        for up, refine in zip(self.ups, self.refine, strict=True):
            # Noise enters below each upsampling stage, so the stage's periodic trace is
            # stamped on flat regions too, as in a generator's decoder.
            noise = torch.randn(x[:, :1].shape, generator=generator, dtype=x.dtype)
            x = F.leaky_relu(up(x + self.noise_std * noise), 0.2)  # (B, C, 2h, 2w)
            x = F.leaky_relu(refine(x), 0.2)
        return self.to_rgb(x)  # (B, 3, H, W)


@dataclass(frozen=True)
class StandInDecoder:
    """A trained decoder and the name of its architecture."""

    name: str
    net: Decoder

    def remake(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 (H, W, 3) real crop -> uint8 (H, W, 3) decoded from its coarse latent."""
        height, width = crop.shape[:2]
        f = self.net.factor
        pad_h, pad_w = -height % f, -width % f
        padded = np.pad(crop, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        x = torch.from_numpy(padded.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
        latent = x.contiguous(memory_format=torch.channels_last)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        with torch.inference_mode():
            out = self.net(latent, generator)[0, :, :height, :width]
        pixels = match_colour((out.permute(1, 2, 0).numpy() + 1.0) * 127.5, crop)
        return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def match_colour(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The affine colour map (3x3 matrix and offset) that best fits decoded to reference.

    A briefly trained decoder gets layout right before colour; one global linear map per
    image fixes the colour and leaves the spatial traces, which are the point, as they are.
    It is fitted on every 4th pixel of each axis: 12 numbers need no more.
    """

    def design(pixels: np.ndarray) -> np.ndarray:  # (N, 4): RGB and a constant
        flat = pixels.reshape(-1, 3).astype(np.float32)
        return np.concatenate([flat, np.ones((len(flat), 1), np.float32)], axis=1)

    sample = design(decoded[::4, ::4])
    target = reference[::4, ::4].reshape(-1, 3).astype(np.float32)
    mapping, *_ = np.linalg.lstsq(sample, target, rcond=None)  # (4, 3)
    return (design(decoded) @ mapping).reshape(decoded.shape)


def train_decoders(
    photos: Sequence[np.ndarray], seed: int, instances: int = 1
) -> list[StandInDecoder]:
    """Every architecture, `instances` weight sets each, briefly trained on photo patches."""
    rng = np.random.default_rng([seed, 7])
    decoders = []
    for name, stages in ARCHITECTURES.items():
        for _ in range(instances):
            torch.manual_seed(int(rng.integers(2**62)))
            net = Decoder(stages, noise_std=float(rng.uniform(*NOISE_STD)))
            _fit(net, photos, rng)
            net = net.eval().to(memory_format=torch.channels_last)  # 2x faster on CPU
            decoders.append(StandInDecoder(name, net))
    return decoders


def _fit(net: Decoder, photos: Sequence[np.ndarray], rng: np.random.Generator) -> None:
    """A few Adam steps of L1 reconstruction: enough to keep colour and layout, no more."""
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    for _ in range(TRAIN_STEPS):
        target = torch.from_numpy(_patches(photos, rng)).permute(0, 3, 1, 2)
        out = net(target, generator)
        loss = (out - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _patches(photos: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """(B, P, P, 3) float32 in [-1, 1]: random native-resolution patches of the photos."""
    size = TRAIN_PATCH
    batch = []
    for _ in range(TRAIN_BATCH):
        photo = photos[int(rng.integers(len(photos)))]
        top = int(rng.integers(photo.shape[0] - size + 1))
        left = int(rng.integers(photo.shape[1] - size + 1))
        batch.append(photo[top : top + size, left : left + size])
    return np.stack(batch).astype(np.float32) / 127.5 - 1.0
