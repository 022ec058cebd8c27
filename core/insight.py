"""What the network sees: its first convolution's filters, every conv layer's feature maps for one image,
and a saliency map (how much each input pixel moves the top class's score)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn
import torchvision

from .data import TUTORIAL_MEAN, TUTORIAL_STD, to_model_input
from .evaluation import eval_mode


class FeatureMaps(NamedTuple):
    """One conv layer's output as a picture, with what the page says about it (it words the caption)."""

    layer: str  # the module's name in the model, e.g. conv1
    count: int  # channels the layer outputs (the grid shows up to max_maps of them)
    height: int
    width: int
    grid: torch.Tensor  # H×W×3 uint8


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Each map scaled to 0..255 on its own min..max."""
    flat = x.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - low) / (high - low).clamp(min=1e-12) * 255).round().byte().view_as(x)


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The first Conv2d's weights as one H×W×3 picture grid (each filter scaled on its own)."""
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    w = conv.weight.detach().cpu()
    if w.shape[1] != 3:
        w = w[:, :1].expand(-1, 3, -1, -1)
    tiles = _to_uint8(w)
    tiles = nn.functional.interpolate(tiles.float(), scale_factor=6, mode="nearest").byte()
    grid = torchvision.utils.make_grid(tiles, nrow=min(8, len(tiles)), padding=2, pad_value=255)
    return grid.permute(1, 2, 0)


@torch.no_grad()
def feature_maps(
    model: nn.Module,
    x: torch.Tensor,
    in_channels: int,
    mean=TUTORIAL_MEAN,
    std=TUTORIAL_STD,
    max_maps: int = 16,
) -> list[FeatureMaps]:
    """For each Conv2d, its output on uint8 image `x` (3×32×32): up to `max_maps` channels as one grid
    picture."""
    outputs: list[tuple[str, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=name: outputs.append((n, o[0].detach().cpu())))
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with eval_mode(model):
            model(to_model_input(x[None], in_channels, mean, std))
    finally:
        for h in hooks:
            h.remove()
    pictures = []
    for name, out in outputs:
        maps = _to_uint8(out[:max_maps])[:, None].expand(-1, 3, -1, -1)
        size = max(1, 48 // maps.shape[-1])
        maps = nn.functional.interpolate(maps.float(), scale_factor=size, mode="nearest").byte()
        grid = torchvision.utils.make_grid(maps, nrow=8, padding=2, pad_value=255)
        pictures.append(FeatureMaps(name, *out.shape, grid.permute(1, 2, 0)))
    return pictures


def saliency(
    model: nn.Module, x: torch.Tensor, in_channels: int, mean=TUTORIAL_MEAN, std=TUTORIAL_STD
) -> torch.Tensor:
    """|d score(top class) / d input|, max over channels, as a 32×32 heat picture over the image (H×W×3)."""
    inp = to_model_input(x[None], in_channels, mean, std).requires_grad_(True)
    with eval_mode(model):
        scores = model(inp)
        scores[0, scores[0].argmax()].backward()
        model.zero_grad(set_to_none=True)  # only the input's gradient is wanted
    heat = inp.grad[0].abs().amax(0)
    heat = (heat / heat.max().clamp(min=1e-12))[..., None]
    red = torch.tensor([255.0, 40.0, 0.0])
    image = x.permute(1, 2, 0).float()
    return (image * (1 - 0.7 * heat) + red * 0.7 * heat).round().byte()
