"""The from-scratch ResNet: every preset gives one logit, and the CAM is exact."""

from __future__ import annotations

import pytest
import torch

from model_training.models import PRESETS, build_resnet


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_maps_images_to_one_logit_each(preset: str) -> None:
    net = build_resnet(preset).eval()
    with torch.no_grad():
        logits = net(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2,)
    assert torch.isfinite(logits).all()


def test_class_activation_map_averages_to_the_logit() -> None:
    net = build_resnet("tiny").eval()
    with torch.no_grad():
        torch.nn.init.normal_(net.head.weight)  # a non-trivial head
        x = torch.randn(3, 3, 32, 32)
        logits, cam = net.forward_with_cam(x)
        assert cam.shape == (3, 4, 4)  # 2x2 blocks folded, stride-1 stem, two stride-2 stages
        torch.testing.assert_close(logits, net(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(cam.mean(dim=(1, 2)), logits)


def test_bottleneck_preset_expands_channels_four_times() -> None:
    assert build_resnet("resnet50").num_features == 2048
    assert build_resnet("resnet18").num_features == 512


def test_overrides_change_depth_and_width() -> None:
    net = build_resnet("tiny", widths=(8, 16, 32), layers=(1, 2, 1))
    assert net.num_features == 32
    assert len(net.stages[1]) == 2


def test_unknown_preset_and_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        build_resnet("resnet1000")
    with pytest.raises(ValueError, match="same length"):
        build_resnet("tiny", layers=(1, 1))
    with pytest.raises(AssertionError, match=r"\(B, 3, H, W\)"):
        build_resnet("tiny")(torch.randn(1, 1, 32, 32))


def test_blocks_start_as_identity_so_deep_nets_train_from_scratch() -> None:
    net = build_resnet("resnet18")
    last_bns = [block.body[-1] for stage in net.stages for block in stage]
    assert all(torch.count_nonzero(bn.weight) == 0 for bn in last_bns)


def test_the_high_pass_input_ignores_content_and_contrast() -> None:
    """A flat image has no residual; scaling the residual's contrast changes nothing."""
    net = build_resnet("tiny").eval()
    flat = torch.full((1, 3, 32, 32), 0.7)
    assert net.input_filter is not None
    assert net.input_filter(flat).abs().max() < 1e-3
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(net.input_filter(3 * x), net.input_filter(x), atol=1e-3, rtol=1e-3)


def test_space_to_depth_folds_pixel_blocks_into_channels() -> None:
    net = build_resnet("tiny")
    assert net.space_to_depth == 2 and net.stem[0].in_channels == 12
    plain = build_resnet("tiny", space_to_depth=1, input_filter="none")
    assert plain.stem[0].in_channels == 3 and plain.input_filter is None
