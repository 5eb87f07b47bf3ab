"""Training package: data, the ResNet, the LightningModule, evaluation, export and publishing."""
