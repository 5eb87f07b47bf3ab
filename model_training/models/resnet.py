"""A ResNet written from scratch: plain `nn.Module`, no Lightning, no torchvision.

One logit out (sigmoid = AI probability). The head is global average pooling then
one linear unit, so the class-activation map (last feature map weighted by the
head's weights) is exact: its spatial mean equals the logit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch
from torch import nn

BlockKind = Literal["basic", "bottleneck"]
StemKind = Literal["imagenet", "cifar"]
InputFilter = Literal["none", "highpass"]


@dataclass(frozen=True)
class ResNetConfig:
    """The network's shape, the one place it is written: the LightningModule takes it as
    `model.net`, and `PRESETS` below name the usual ones (the defaults are resnet18).

    Args:
        block: residual block: basic (two 3x3) or bottleneck (1x1-3x3-1x1, 4x expansion)
        layers: blocks per stage (resnet18 2,2,2,2; resnet34 and resnet50 3,4,6,3)
        widths: channels per stage, one per entry of `layers`
        stem: imagenet (strided 7x7 + max-pool) or cifar (3x3, full size)
        stem_width: the stem's channels
        dropout: dropout before the head
        input_filter: none, or highpass (the image's residual, scaled to unit energy)
        space_to_depth: fold each k x k pixel block into channels before the stem
    """

    block: BlockKind = "basic"
    layers: tuple[int, ...] = (2, 2, 2, 2)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem: StemKind = "imagenet"
    stem_width: int = 64
    dropout: float = 0.0
    input_filter: InputFilter = "none"
    space_to_depth: int = 1

    def __post_init__(self) -> None:
        # YAML and checkpoints give lists; the config is frozen and hashable with tuples.
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "widths", tuple(self.widths))

    def to_dict(self) -> dict[str, object]:
        """Plain types (tuples, strings, numbers), safe for a `weights_only` checkpoint."""
        return asdict(self)


PRESETS: dict[str, ResNetConfig] = {
    # The demo preset keeps full resolution in the stem: generator fingerprints are
    # high-frequency, and a strided 7x7 stem plus max-pool would blur them early.
    # It looks at the image's high-pass residual scaled to unit energy (the traces rather
    # than the content, so a photograph's own texture or softness counts for little), with
    # each 2x2 block folded into channels: a trace that repeats every 2 or 4 pixels becomes a
    # difference between channels, which a small network finds at once (and 4x cheaper).
    "tiny": ResNetConfig(
        layers=(1, 1, 1),
        widths=(16, 32, 64),
        stem="cifar",
        stem_width=16,
        input_filter="highpass",
        space_to_depth=2,
    ),
    "small": ResNetConfig(layers=(1, 1, 1), widths=(32, 64, 128), stem="cifar", stem_width=32),
    "resnet18": ResNetConfig(block="basic", layers=(2, 2, 2, 2)),
    "resnet34": ResNetConfig(block="basic", layers=(3, 4, 6, 3)),
    "resnet50": ResNetConfig(block="bottleneck", layers=(3, 4, 6, 3)),
}


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.body = nn.Sequential(
            conv3x3(in_ch, width, stride),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            conv3x3(width, out_ch),
            nn.BatchNorm2d(out_ch),
        )
        self.shortcut = _shortcut(in_ch, out_ch, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4): the ResNet-50 block."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, width, kernel_size=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            conv3x3(width, width, stride),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, out_ch, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        self.shortcut = _shortcut(in_ch, out_ch, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_ch),
    )


class HighPassInput(nn.Module):
    """x -> (x - blur(x)) / rms: the residual a generator's upsampling leaves its traces in.

    The 3x3 binomial blur is fixed, not learned; dividing by each crop's residual energy
    takes away how noisy or sharp the picture is, and leaves the pattern of the residual.
    """

    def __init__(self) -> None:
        super().__init__()
        binomial = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(binomial, binomial) / 16.0
        self.register_buffer("kernel", kernel.expand(3, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = nn.functional.conv2d(
            nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel, groups=3
        )
        residual = x - low  # (B, 3, H, W)
        energy = residual.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()  # (B, 1, 1, 1)
        return residual / (energy + 1e-3)


def _stem(kind: StemKind, width: int, in_ch: int) -> nn.Sequential:
    if kind == "cifar":
        return nn.Sequential(conv3x3(in_ch, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
    return nn.Sequential(
        nn.Conv2d(in_ch, width, kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )


class ResNet(nn.Module):
    """ResNet with a single-logit head and an exact class-activation map."""

    def __init__(self, config: ResNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or ResNetConfig()
        if len(self.config.layers) != len(self.config.widths):
            raise ValueError("layers and widths must have the same length")
        block = BasicBlock if self.config.block == "basic" else Bottleneck
        self.input_filter = HighPassInput() if self.config.input_filter == "highpass" else None
        self.space_to_depth = self.config.space_to_depth
        in_ch = 3 * self.space_to_depth**2
        self.stem = _stem(self.config.stem, self.config.stem_width, in_ch)
        stages: list[nn.Module] = []
        in_ch = self.config.stem_width
        for index, (depth, width) in enumerate(
            zip(self.config.layers, self.config.widths, strict=True)
        ):
            stride = 1 if index == 0 else 2
            blocks: list[nn.Module] = []
            for block_index in range(depth):
                blocks.append(block(in_ch, width, stride if block_index == 0 else 1))
                in_ch = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = in_ch
        self.dropout = nn.Dropout(self.config.dropout)
        self.head = nn.Linear(in_ch, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Zero the last BN of each residual branch: every block starts as identity.
        for module in self.modules():
            if isinstance(module, (BasicBlock, Bottleneck)):
                last_bn = module.body[-1]
                assert isinstance(last_bn, nn.BatchNorm2d)
                nn.init.zeros_(last_bn.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> last feature map (B, C, h, w)."""
        assert x.ndim == 4 and x.shape[1] == 3, f"expected (B, 3, H, W), got {tuple(x.shape)}"
        if self.input_filter is not None:
            x = self.input_filter(x)  # (B, 3, H, W)
        if self.space_to_depth > 1:
            x = nn.functional.pixel_unshuffle(x, self.space_to_depth)  # (B, 3k^2, H/k, W/k)
        x = self.stem(x)  # (B, stem_width, H/s, W/s)
        return self.stages(x)  # (B, C, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> logits (B,)."""
        pooled = self.features(x).mean(dim=(2, 3))  # (B, C)
        return self.head(self.dropout(pooled)).squeeze(-1)  # (B,)

    def forward_with_cam(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> logits (B,) and class-activation maps (B, h, w)."""
        feats = self.features(x)  # (B, C, h, w)
        weight = self.head.weight[0]  # (C,)
        cam = torch.einsum("bchw,c->bhw", feats, weight) + self.head.bias[0]  # (B, h, w)
        return cam.mean(dim=(1, 2)), cam


def build_resnet(preset: str = "tiny", **overrides: object) -> ResNet:
    """Build a ResNet from a named preset, with any `ResNetConfig` field overridden."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return ResNet(replace(PRESETS[preset], **overrides))  # type: ignore[arg-type]


def preset_name(config: ResNetConfig) -> str | None:
    """The name of the preset `config` equals, or None for a custom shape."""
    return next((name for name, preset in PRESETS.items() if preset == config), None)
