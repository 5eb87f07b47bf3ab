"""Networks: plain `nn.Module`s that know nothing of Lightning."""

from model_training.models.resnet import PRESETS, ResNet, ResNetConfig, build_resnet, preset_name

__all__ = ["PRESETS", "ResNet", "ResNetConfig", "build_resnet", "preset_name"]
