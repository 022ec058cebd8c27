"""The model registry: the tutorial's two networks, exactly as it writes them, and a fast residual CNN."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import Layer, LayerNet, parse
from .messages import N_

WHITEN_BIAS_TRAIN = 0.3  # Airbench's whitening bias learns for this part of the steps (airbench94: 3 of 10)


class Net(nn.Module):
    """The tutorial's CIFAR-10 classifier, from its "Training a classifier" chapter, line for line."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class LeNet(nn.Module):
    """The seed's 1-channel LeNet ("Neural networks"); takes 1×32×32 grayscale input."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))  # C1: 6@28x28
        s2 = F.max_pool2d(c1, (2, 2))  # S2: 6@14x14
        c3 = F.relu(self.conv2(s2))  # C3: 16@10x10
        s4 = F.max_pool2d(c3, 2)  # S4: 16@5x5
        s4 = torch.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        output = self.fc3(f6)
        return output


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c, c), conv_bn(c, c))

    def forward(self, x):
        return x + self.body(x)


class ResNet9(nn.Module):
    """The DAWNBench-winning ResNet-9 layout (prep, 3 pooled stages, 2 residual blocks), width-scalable:
    width 64 is the GPU original, smaller widths keep a 2-core CPU busy but not swamped."""

    def __init__(self, num_classes: int = 10, width: int = 64):
        super().__init__()
        w = width
        self.layers = nn.Sequential(
            conv_bn(3, w),
            conv_bn(w, 2 * w),
            nn.MaxPool2d(2),
            Residual(2 * w),
            conv_bn(2 * w, 4 * w),
            nn.MaxPool2d(2),
            conv_bn(4 * w, 8 * w),
            nn.MaxPool2d(2),
            Residual(8 * w),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(8 * w, num_classes, bias=False)
        self.scale = 0.125  # scaled logits, as in the original recipe, keep early softmax from saturating

    def forward(self, x):
        return self.fc(self.layers(x)) * self.scale


class FrozenScaleBatchNorm(nn.BatchNorm2d):
    """airbench's batch-norm: fast-moving statistics (momentum 0.4) and a fixed scale of 1;
    only the shift learns."""

    def __init__(self, c: int):
        super().__init__(c, eps=1e-12, momentum=0.4)
        self.weight.requires_grad = False


class ConvGroup(nn.Module):
    """conv → max-pool → norm → GELU → conv → norm → GELU; convs start as identity on their first channels."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = FrozenScaleBatchNorm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = FrozenScaleBatchNorm(c_out)
        for conv in (
            self.conv1,
            self.conv2,
        ):  # dirac init: the group starts close to passing its input through
            nn.init.dirac_(conv.weight.data[: conv.in_channels])

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class Airbench(nn.Module):
    """Keller Jordan's airbench94 network (2024): a frozen patch-whitening first layer, three conv groups,
    global max-pool, a linear head scaled by 1/9.
    Call `init_whitening` with training images before training."""

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (64, 256, 256)):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)  # 2×2 patches → 12 eigen-directions, ± each
        self.whiten.weight.requires_grad = False
        self.groups = nn.Sequential(
            ConvGroup(24, widths[0]), ConvGroup(widths[0], widths[1]), ConvGroup(widths[1], widths[2])
        )
        self.head = nn.Linear(widths[2], num_classes, bias=False)

    @torch.no_grad()
    def init_whitening(self, x: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer to whiten 2×2 patches of `x` (normalised images):
        decorrelated, unit variance."""
        patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12).float()
        eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))
        w = (eigenvectors.T / torch.sqrt(eigenvalues + eps).view(-1, 1)).view(12, 3, 2, 2)
        self.whiten.weight.copy_(torch.cat([w, -w]))

    def forward(self, x):
        x = self.groups(F.gelu(self.whiten(x)))
        return self.head(torch.amax(x, dim=(2, 3))) / 9


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    in_channels: int
    build: Callable[[int], nn.Module]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, 32, 32)

    def parameter_count(self, num_classes: int = 10) -> int:
        """Counted on the meta device: no memory, no initialisation (the Train form counts every model on
        each redraw; building airbench and resnet9 for real took 0.1 s)."""
        with torch.device("meta"):
            return sum(p.numel() for p in self.build(num_classes).parameters())


MODELS: dict[str, ModelSpec] = {
    "tutorial": ModelSpec(
        "tutorial",
        N_("The tutorial's CIFAR-10 Net: 2 conv + 3 linear layers, ReLU, max-pool."),
        3,
        lambda k: Net(k),
    ),
    "lenet": ModelSpec(
        "lenet",
        N_("The tutorial's LeNet from 'Neural networks': same layers, 1-channel (grayscale) input."),
        1,
        lambda k: LeNet(k),
    ),
    "resnet9-mini": ModelSpec(
        "resnet9-mini",
        N_("ResNet-9 at width 16: batch-norm residual CNN sized for a CPU."),
        3,
        lambda k: ResNet9(k, width=16),
    ),
    "resnet9": ModelSpec(
        "resnet9",
        N_("ResNet-9 at width 64 (the DAWNBench recipe): for a GPU."),
        3,
        lambda k: ResNet9(k, width=64),
    ),
    "airbench-mini": ModelSpec(
        "airbench-mini",
        N_(
            "airbench94's network at widths 32/64/64: whitened 2×2 patches, 3 conv groups; the fastest "
            "route to 85 % on a CPU."
        ),
        3,
        lambda k: Airbench(k, (32, 64, 64)),
    ),
    "airbench": ModelSpec(
        "airbench",
        N_(
            "airbench94's network (widths 64/256/256): with the fast-gpu preset, 10 epochs take 3-5 s of "
            "training on one H200 GPU."
        ),
        3,
        lambda k: Airbench(k, (64, 256, 256)),
    ),
}


CUSTOM = "custom"  # a network built from its layers (core/layers.py), stored in the run's config as text


def _input_channels(layers: tuple[Layer, ...]) -> int:
    """The channels a built network reads: its first convolution's or batch-norm's; 3 (colour) otherwise,
    or 1 for a first Linear that takes 32 × 32 numbers."""
    for layer in layers:
        if layer.kind in ("Conv2d", "BatchNorm2d"):
            return int(layer.args[0][1])
        if layer.kind == "Linear":
            return 1 if layer.arg("in_features") == 32 * 32 else 3
    return 3


def custom_spec(text: str) -> ModelSpec:
    """The spec of a network built from `text` (LayersError when it cannot be read). Its last layer decides
    how many classes it predicts; `validate` checks that against the data."""
    layers = parse(text)
    return ModelSpec(CUSTOM, N_("Your own network, built from its layers."), _input_channels(layers),
                     lambda _k: LayerNet(layers))  # fmt: skip


def get_model_spec(name: str, layers: str = "") -> ModelSpec:
    if name == CUSTOM:
        return custom_spec(layers)
    if name not in MODELS:
        raise ValueError(f"Unknown model '{name}'. Available: {', '.join(MODELS)}.")
    return MODELS[name]


def build_model(name: str, num_classes: int = 10, layers: str = "") -> nn.Module:
    return get_model_spec(name, layers).build(num_classes)
