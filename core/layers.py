"""A network described as a list of layers, the way PyTorch writes them:

    Conv2d(3, 6, 5) | ReLU | MaxPool2d(2) | Conv2d(6, 16, 5) | ReLU | MaxPool2d(2) | Flatten |
    Linear(400, 120) | ReLU | Linear(120, 84) | ReLU | Linear(84, 10)

The text is parsed with `ast` (numbers and names only, never evaluated). `infer` runs the layers on the
meta device (shapes only, nothing allocated) and returns, per layer, its output shape, parameters and
multiply-adds; a layer that cannot take what arrives raises `LayersError` naming the layer, the shape that
arrives, the one it needs and the value that would fit ("fc1 expects 400 inputs; with this input it receives
16 × 6 × 6 = 576"). `LayerNet` is the module; `net_code` the same network as a `class Net(nn.Module)`.
Layers are named as the tutorial names them: conv1, conv2, fc1, …; a ReLU, a pool and the flatten are
functions in forward, without parameters.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .messages import N_, MessageError

MAX_LAYERS = 64
MAX_TEXT = 2_000  # characters of a text form
MAX_WIDTH = 65_536  # channels or features of one layer (the parameter cap bounds the rest)
MAX_KERNEL = 15
MAX_PARAMETERS = 20_000_000
MAX_MACS = 2_000_000_000  # multiply-adds per image
REQUIRED = "required"
# each kind: its arguments in PyTorch's order, (name, default or REQUIRED)
KINDS: dict[str, tuple[tuple[str, float | int | str | None], ...]] = {
    "Conv2d": (
        ("in_channels", REQUIRED),
        ("out_channels", REQUIRED),
        ("kernel_size", REQUIRED),
        ("stride", 1),
        ("padding", 0),
    ),
    "MaxPool2d": (("kernel_size", REQUIRED), ("stride", None)),
    "AvgPool2d": (("kernel_size", REQUIRED), ("stride", None)),
    "ReLU": (),
    "BatchNorm2d": (("num_features", REQUIRED),),
    "Dropout": (("p", 0.5),),
    "Flatten": (),
    "Linear": (("in_features", REQUIRED), ("out_features", REQUIRED)),
}
PREFIX = {
    "Conv2d": "conv",
    "Linear": "fc",
    "BatchNorm2d": "bn",
    "Dropout": "drop",
    "MaxPool2d": "pool",
    "AvgPool2d": "pool",
    "ReLU": "relu",
    "Flatten": "flatten",
}
WITH_PARAMETERS = ("Conv2d", "Linear", "BatchNorm2d", "Dropout")  # modules (Dropout: train/eval behaviour)

LENET = (
    "Conv2d(1, 6, 5) | ReLU | MaxPool2d(2) | Conv2d(6, 16, 5) | ReLU | MaxPool2d(2) | Flatten | "
    "Linear(400, 120) | ReLU | Linear(120, 84) | ReLU | Linear(84, 10)"
)
CIFAR_NET = LENET.replace("Conv2d(1, 6, 5)", "Conv2d(3, 6, 5)")


class LayersError(MessageError):
    """A text form that cannot be read, or a layer that cannot take what arrives (one sentence). `rows`:
    what `infer` computed before the layer that failed."""

    rows: list[Row] = []


@dataclass(frozen=True)
class Layer:
    kind: str
    args: tuple[tuple[str, float | int], ...]  # every argument, defaults filled in

    def arg(self, name: str) -> float | int:
        return dict(self.args)[name]

    def text(self) -> str:
        """As PyTorch writes it: required arguments by position, changed defaults by name."""
        spec = dict(KINDS[self.kind])
        shown = [repr(v) for k, v in self.args if spec[k] == REQUIRED]
        shown += [f"{k}={v!r}" for k, v in self.args if spec[k] != REQUIRED and v != spec[k]]
        return f"{self.kind}({', '.join(shown)})" if shown else self.kind

    def module(self) -> nn.Module:
        values = {k: v for k, v in self.args if v is not None}
        return getattr(nn, self.kind)(**values)


def _number(node: ast.expr, layer: str) -> float | int:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _number(node.operand, layer)
        return -value
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    raise LayersError(N_("{layer}: its arguments must be plain numbers, like Conv2d(3, 6, 5)."), layer=layer)


def _layer(text: str, position: int) -> Layer:
    label = text.strip()[:40] or f"#{position}"
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        raise LayersError(
            N_("Layer {n} ('{text}') cannot be read: write it as PyTorch does, e.g. Conv2d(3, 6, 5)."),
            n=position,
            text=label,
        ) from None
    name, args, keywords = (node.id, [], []) if isinstance(node, ast.Name) else (None, [], [])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name, args, keywords = node.func.id, node.args, node.keywords
    if name not in KINDS:
        raise LayersError(
            N_("Layer {n}: '{text}' is not one of {kinds}."), n=position, text=label, kinds=", ".join(KINDS)
        )
    spec = KINDS[name]
    if len(args) > len(spec) or any(k.arg not in dict(spec) for k in keywords):
        raise LayersError(
            N_("Layer {n}: {kind} takes {names}."),
            n=position,
            kind=name,
            names=", ".join(k for k, _v in spec) or "—",
        )
    values = dict(spec) | {k: _number(v, label) for (k, _d), v in zip(spec, args)}
    values |= {k.arg: _number(k.value, label) for k in keywords}
    missing = [k for k, v in values.items() if v == REQUIRED]
    if missing:
        raise LayersError(
            N_("Layer {n}: {kind} needs {names}."), n=position, kind=name, names=", ".join(missing)
        )
    for key, value in values.items():
        if value is None:
            continue
        if key == "p":
            if not 0 <= value < 1:
                raise LayersError(
                    N_("Layer {n}: Dropout's p is a share in [0, 1), not {value}."), n=position, value=value
                )
        elif not isinstance(value, int) or value < (0 if key == "padding" else 1):
            raise LayersError(
                N_("Layer {n}: {kind}'s {key} must be a whole number ≥ 1 (padding ≥ 0), not {value}."),
                n=position,
                kind=name,
                key=key,
                value=value,
            )
        elif value > (limit := MAX_KERNEL if key in ("kernel_size", "stride", "padding") else MAX_WIDTH):
            message = N_("Layer {n}: {kind}'s {key} = {value} is over this builder's limit of {limit}.")
            raise LayersError(message, n=position, kind=name, key=key, value=value, limit=limit)
    return Layer(name, tuple(values.items()))


def parse(text: str) -> tuple[Layer, ...]:
    """The layers of a text form (`|` between layers; parentheses optional without arguments)."""
    if len(text) > MAX_TEXT:
        raise LayersError(
            N_("The network's text is {length:,} characters; the limit is {limit:,}."),
            length=len(text),
            limit=MAX_TEXT,
        )
    parts = text.split("|")
    if not text.strip():
        raise LayersError(N_("The network has no layers yet."))
    if len(parts) > MAX_LAYERS:
        raise LayersError(
            N_("{count} layers is more than this builder's limit of {limit}."),
            count=len(parts),
            limit=MAX_LAYERS,
        )
    return tuple(_layer(p, i) for i, p in enumerate(parts, 1))


def text_form(layers: tuple[Layer, ...]) -> str:
    return " | ".join(layer.text() for layer in layers)


def names(layers: tuple[Layer, ...]) -> list[str]:
    """conv1, conv2, fc1 …: each kind counted on its own, as the tutorial names its layers."""
    counts: dict[str, int] = {}
    out = []
    for layer in layers:
        prefix = PREFIX[layer.kind]
        counts[prefix] = counts.get(prefix, 0) + 1
        out.append(f"{prefix}{counts[prefix]}")
    return out


@dataclass(frozen=True)
class Row:
    name: str
    layer: str  # its text form
    shape: tuple[int, ...]  # output, batch of 1
    parameters: int
    macs: int  # multiply-adds per image


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(map(str, shape[1:])) + ")"


def _mismatch(
    name: str, layer: Layer, arriving: tuple[int, ...], before_flatten: tuple[int, ...] | None
) -> LayersError:
    """Why `layer` cannot take `arriving` (batch first), and the value that would fit."""
    kind = layer.kind
    if kind == "Linear":
        if len(arriving) != 2:
            return LayersError(
                N_("{name} expects (N, {need}) but receives {shape}: put Flatten before it."),
                name=name,
                need=layer.arg("in_features"),
                shape=_shape_text(arriving),
            )
        got = arriving[1]
        if before_flatten is not None and len(before_flatten) == 4:
            c, h, w = before_flatten[1:]
            return LayersError(
                N_(
                    "{name} expects {need} inputs; with this input it "
                    "receives {c} channels × {h} × {w} = {got}: "
                    "set in_features to {got}."
                ),
                name=name,
                need=layer.arg("in_features"),
                c=c,
                h=h,
                w=w,
                got=got,
            )
        return LayersError(
            N_("{name} expects {need} inputs but receives {got}: set in_features to {got}."),
            name=name,
            need=layer.arg("in_features"),
            got=got,
        )
    if len(arriving) != 4:
        return LayersError(
            N_("{name} works on images (N, C, H, W) but receives {shape}: it must come before Flatten."),
            name=name,
            shape=_shape_text(arriving),
        )
    channels, size = arriving[1], arriving[2:]
    key = {"Conv2d": "in_channels", "BatchNorm2d": "num_features"}.get(kind)
    if key and layer.arg(key) != channels:
        return LayersError(
            N_("{name} expects {need} channels but receives {got} (shape {shape}): set {key} to {got}."),
            name=name,
            need=layer.arg(key),
            got=channels,
            shape=_shape_text(arriving),
            key=key,
        )
    k = layer.arg("kernel_size")
    return LayersError(
        N_(
            "{name}'s {k}×{k} window does not fit the {h}×{w} maps that arrive: use a smaller kernel, "
            "padding, or fewer poolings before it."
        ),
        name=name,
        k=k,
        h=size[0],
        w=size[1],
    )


def infer(layers: tuple[Layer, ...], input_shape: tuple[int, int, int]) -> list[Row]:
    """Each layer's output shape, parameter count and multiply-adds for one `input_shape` (C, H, W) image,
    on the meta device. LayersError at the first layer that cannot take what arrives, or over a cap."""
    x = torch.empty((1, *input_shape), device="meta")
    rows, before_flatten, total_params, total_macs = [], None, 0, 0
    for name, layer in zip(names(layers), layers):
        with torch.device("meta"):
            # eval mode: batch-norm on a batch of one 1×1 map is a shape that fits, not a training error
            module = layer.module().eval()
        try:
            y = module(x)
            if layer.kind == "Linear" and x.dim() != 2:
                raise RuntimeError("a Linear layer applied to images")
        except (RuntimeError, ValueError):
            error = _mismatch(name, layer, tuple(x.shape), before_flatten)
            error.rows = rows  # the layers before it, which did take what arrived
            raise error from None
        params = sum(p.numel() for p in module.parameters())
        if layer.kind == "Conv2d":
            k = layer.arg("kernel_size")
            macs = y.numel() * layer.arg("in_channels") * k * k
        elif layer.kind == "Linear":
            macs = layer.arg("in_features") * layer.arg("out_features")
        elif layer.kind == "BatchNorm2d":
            macs = y.numel()  # x * scale + shift, per value
        else:
            macs = 0  # ReLU, pooling, Flatten, Dropout: comparisons and copies, no multiply-adds
        total_params, total_macs = total_params + params, total_macs + macs
        if total_params > MAX_PARAMETERS:
            raise LayersError(
                N_("The network has {count:,} parameters by {name}; this builder's limit is {limit:,}."),
                count=total_params,
                name=name,
                limit=MAX_PARAMETERS,
            )
        if total_macs > MAX_MACS:
            raise LayersError(
                N_("The network needs over {limit:,} multiply-adds per image by {name}: make it smaller."),
                name=name,
                limit=MAX_MACS,
            )
        before_flatten = tuple(x.shape) if layer.kind == "Flatten" else before_flatten
        x = y
        rows.append(Row(name, layer.text(), tuple(y.shape), params, macs))
    return rows


class LayerNet(nn.Module):
    """The network a list of layers describes: its parameterised layers as named attributes (conv1, fc1 …),
    the others as functions in forward, in order."""

    def __init__(self, layers: tuple[Layer, ...]):
        super().__init__()
        self.plan = list(zip(names(layers), layers))
        for name, layer in self.plan:
            if layer.kind in WITH_PARAMETERS:
                self.add_module(name, layer.module())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, layer in self.plan:
            if layer.kind in WITH_PARAMETERS:
                x = getattr(self, name)(x)
            elif layer.kind == "ReLU":
                x = torch.relu(x)
            elif layer.kind == "Flatten":
                x = torch.flatten(x, 1)
            else:
                x = _pool(layer, x)
        return x


def _pool(layer: Layer, x: torch.Tensor) -> torch.Tensor:
    pool = F.max_pool2d if layer.kind == "MaxPool2d" else F.avg_pool2d
    return pool(x, layer.arg("kernel_size"), layer.arg("stride"))


def _pool_code(layer: Layer) -> str:
    function = "F.max_pool2d" if layer.kind == "MaxPool2d" else "F.avg_pool2d"
    stride = layer.arg("stride")
    return f"{function}(x, {layer.arg('kernel_size')}" + (f", {stride})" if stride is not None else ")")


_FUNCTIONS = {"ReLU": "F.relu(x)", "Flatten": "torch.flatten(x, 1)"}


def net_code(layers: tuple[Layer, ...], input_shape: tuple[int, int, int]) -> str:
    """The network as a `class Net(nn.Module)`, the shape after each line in its comment (the code that
    builds the same parameters as LayerNet, in the same order)."""
    rows = infer(layers, input_shape)
    init = [
        f"        self.{n} = nn.{layer.text() if '(' in layer.text() else layer.text() + '()'}"
        for n, layer in zip(names(layers), layers)
        if layer.kind in WITH_PARAMETERS
    ]
    forward = []
    for row, layer in zip(rows, layers):
        if layer.kind in WITH_PARAMETERS:
            call = f"self.{row.name}(x)"
        elif layer.kind in _FUNCTIONS:
            call = _FUNCTIONS[layer.kind]
        else:
            call = _pool_code(layer)
        forward.append(f"        x = {call}  # {_shape_text(row.shape)}")
    return "\n".join(
        [
            "class Net(nn.Module):",
            "",
            "    def __init__(self):",
            "        super().__init__()",
            *init,
            "",
            "    def forward(self, x):",
            f"        # x: {_shape_text((1, *input_shape))}",
            *forward,
            "        return x",
        ]
    )


def summary(rows: list[Row]) -> tuple[int, int]:
    """Total parameters and multiply-adds per image."""
    return sum(r.parameters for r in rows), sum(r.macs for r in rows)
