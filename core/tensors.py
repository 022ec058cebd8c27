"""The tensor playground's engine: create named tensors, describe them, and the numpy bridge.

Every action returns the PyTorch code that does the same, so a user can paste it into a notebook. Its
refusals are `ExprError`s with `N_`-marked templates (core.messages), shown translated by the app."""

from __future__ import annotations

import ast
import keyword
import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .devices import DeviceError, resolve_device
from .expr import MAX_ELEMENTS, ExprError, as_expr_error, evaluate, names_in
from .messages import N_, Phrase

FACTORIES = ("rand", "randn", "ones", "zeros", "empty", "arange", "linspace", "eye", "full")
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


PREVIEW_ELEMENTS = 1_000  # values a table shows
HEATMAP_SIDE = 100  # cells along each side of a heatmap
IMAGE_SIDE = 256  # pixels along each side of a tensor shown as a picture
NUMPY_DTYPES = {
    torch.float16,
    torch.float32,
    torch.float64,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
}


@dataclass
class Created:
    tensor: torch.Tensor
    code: str
    array: np.ndarray | None = None  # the numpy array it shares memory with, for the bridge demo
    comment: Phrase | None = None  # what the code's last line does, shown translated as its `# …` comment


def parse_shape(text: str) -> tuple[int, ...]:
    """ "2, 3" or "(2, 3)" → (2, 3); sizes must be whole numbers ≥ 0 and the total within the cap."""
    try:
        value = ast.literal_eval(text.strip() or "()")
    except (ValueError, SyntaxError):
        raise ExprError(
            N_("'{text}' is not a shape: write sizes separated by commas, e.g. 2, 3."), text=text
        ) from None
    shape = (value,) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if shape is None or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ExprError(N_("'{text}' is not a shape: sizes must be whole numbers ≥ 0."), text=text)
    _check_numel(math.prod(shape))
    return shape


def _check_numel(n: int) -> None:
    if n > MAX_ELEMENTS:
        raise ExprError(
            N_("That would be {count:,} elements; the limit here is {limit:,}."), count=n, limit=MAX_ELEMENTS
        )


def parse_literal(text: str) -> list | float:
    """A Python list literal as data (never executed): numbers or nested lists of numbers."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ExprError(N_("Write numbers or (nested) lists of numbers, e.g. [[1, 2], [3, 4]].")) from None

    def count(v, depth=0) -> int:
        if depth > 8:
            raise ExprError(N_("The list is nested too deeply."))
        if isinstance(v, (list, tuple)):
            return sum(count(x, depth + 1) for x in v)
        if isinstance(v, (int, float)) and not isinstance(v, complex):
            return 1
        raise ExprError(
            N_("{value} is not a number: only numbers and lists of numbers are allowed."), value=repr(v)
        )

    _check_numel(count(value))
    return value


def _device(name: str) -> torch.device:
    try:
        return resolve_device(name)
    except DeviceError as e:
        raise as_expr_error(e) from None


def from_literal(
    name: str, text: str, dtype: str | None = None, device: str = "cpu", requires_grad: bool = False
) -> Created:
    data = parse_literal(text)
    kwargs = {}
    if dtype:
        kwargs["dtype"] = DTYPES[dtype]
    dev = _device(device)
    try:
        t = torch.tensor(data, device=dev, requires_grad=requires_grad, **kwargs)
    except (ValueError, TypeError, RuntimeError) as e:
        raise ExprError(
            N_("{fn} failed: {reason}"), fn="torch.tensor", reason=str(e).splitlines()[0]
        ) from None
    args = (
        [text.strip()]
        + [f"dtype=torch.{dtype}"] * bool(dtype)
        + [f"device='{dev}'"] * (dev.type != "cpu")
        + ["requires_grad=True"] * requires_grad
    )
    return Created(t, f"{name} = torch.tensor({', '.join(args)})")


def from_numpy(name: str, text: str) -> Created:
    """np.array(literal) then torch.from_numpy: the tensor and the array share one block of memory."""
    array = np.array(parse_literal(text))
    t = torch.from_numpy(array)
    return Created(
        t,
        f"import numpy as np\n{name}_np = np.array({text.strip()})\n{name} = torch.from_numpy({name}_np)",
        array,
        Phrase(N_("shares memory with {array}"), array=f"{name}_np"),
    )


def factory(
    name: str,
    kind: str,
    shape: str = "2, 3",
    dtype: str = "float32",
    device: str = "cpu",
    requires_grad: bool = False,
    start: float = 0,
    end: float = 1,
    steps: int = 5,
    fill: float = 0.0,
) -> Created:
    """torch.rand / randn / ones / zeros / empty / full (by shape), arange / linspace (by range), eye (by
    size)."""
    if kind not in FACTORIES:
        raise ExprError(
            N_("Unknown creation function '{kind}'. Choose one of {known}."),
            kind=kind,
            known=", ".join(FACTORIES),
        )
    dev, dt = _device(device), DTYPES[dtype]
    if requires_grad and not dt.is_floating_point:
        raise ExprError(N_("Only floating-point tensors can require gradients."))
    if kind in ("rand", "randn") and not dt.is_floating_point:
        raise ExprError(N_("torch.{kind} makes floating-point numbers; pick a float dtype."), kind=kind)
    if kind in ("rand", "randn", "ones", "zeros", "empty"):
        args = ", ".join(map(str, parse_shape(shape)))
    elif kind == "full":
        args = f"{parse_shape(shape)}, {_number(fill)}"
    elif kind == "arange":
        if end <= start or (end - start) / 1 > MAX_ELEMENTS:
            raise ExprError(
                N_("arange needs end > start, and at most {limit:,} steps of 1."), limit=MAX_ELEMENTS
            )
        args = f"{_number(start)}, {_number(end)}"
    elif kind == "linspace":
        _check_numel(steps)
        args = f"{_number(start)}, {_number(end)}, {steps}"
    else:  # eye
        size = parse_shape(shape)
        n = size[0] if size else 3
        _check_numel(n * n)
        args = str(n)
    options = (
        f", dtype=torch.{dtype}"
        + (f", device='{dev}'" if dev.type != "cpu" else "")
        + (", requires_grad=True" if requires_grad else "")
    )
    call = f"torch.{kind}({args}{options})"
    # one source: the tensor is what the shown code makes, run through the expression box's evaluator
    return Created(evaluate(call, {}), f"{name} = {call}")


def _number(x: float) -> str:
    """A number as code, as short as it reads (7, 0.5) yet exactly the value (0.1234567 stays whole)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))


def describe(t: torch.Tensor) -> dict[str, Any]:
    """The attributes the tutorial shows, plus the memory facts behind views and in-place ops."""
    # the keys are English names (N_: the app shows them translated); requires_grad and data_ptr are code
    return {
        N_("shape"): tuple(t.shape),
        N_("dtype"): str(t.dtype).replace("torch.", ""),
        N_("device"): str(t.device),
        "requires_grad": t.requires_grad,
        N_("numel"): t.numel(),
        N_("element size (bytes)"): t.element_size(),
        N_("bytes"): t.numel() * t.element_size(),
        N_("stride"): tuple(t.stride()),
        N_("contiguous"): t.is_contiguous(),
        "data_ptr": hex(t.data_ptr()),
    }


def plane(t: torch.Tensor, index: tuple[int, ...] = ()) -> torch.Tensor:
    """A 2-D (or 1-D) slice to display: the leading dimensions fixed at `index`."""
    for i in index:
        t = t[i]
    return t.detach().cpu()


def preview(grid: torch.Tensor, limit: int = PREVIEW_ELEMENTS) -> torch.Tensor:
    """The top-left corner of a 2-D grid with at most `limit` values, all of them when it is small:
    a table of a million cells would take the page many seconds to build and send."""
    cols = min(grid.shape[1], limit)
    rows = min(grid.shape[0], max(1, limit // max(cols, 1)))
    return grid[:rows, :cols]


def downsample(grid: torch.Tensor, side: int = HEATMAP_SIDE) -> tuple[np.ndarray, list[int], list[int]]:
    """A non-empty 2-D grid shrunk to at most side×side cells, each the mean of its block, with the row
    and column where each block starts: a heatmap of any size costs the same to send and to draw."""
    height, width = grid.shape
    rows, cols = min(height, side), min(width, side)
    z = torch.nn.functional.adaptive_avg_pool2d(grid.double()[None, None], (rows, cols))[0, 0]
    # adaptive pooling's block i starts at floor(i × size / blocks)
    return z.numpy(), [i * height // rows for i in range(rows)], [j * width // cols for j in range(cols)]


def as_image(t: torch.Tensor, side: int = IMAGE_SIDE) -> np.ndarray | None:
    """A 3×H×W (or 1×H×W) tensor as an H×W×3 uint8 picture, scaled from its min..max and shrunk to at
    most `side` pixels a side; None for any other shape, and for an empty one."""
    if t.dim() != 3 or t.shape[0] not in (1, 3) or t.is_complex() or t.numel() == 0:
        return None
    x = t.detach().cpu().double()
    if max(x.shape[1:]) > side:
        scale = side / max(x.shape[1:])
        size = (max(1, round(x.shape[1] * scale)), max(1, round(x.shape[2] * scale)))
        x = torch.nn.functional.adaptive_avg_pool2d(x[None], size)[0]
    x = (x - x.min()) / (x.max() - x.min()).clamp(min=1e-12)
    return (x.expand(3, -1, -1) * 255).round().byte().permute(1, 2, 0).numpy()


def bridgeable(t: torch.Tensor) -> bool:
    """Whether `t.numpy()` shares memory with `t`: a CPU tensor without gradients, of a dtype numpy has."""
    return t.device.type == "cpu" and not t.requires_grad and t.dtype in NUMPY_DTYPES


def views_as(array: np.ndarray | None, t: torch.Tensor) -> bool:
    """Whether `array` shows `t`'s elements as `t.numpy()` would: the same memory, shape and strides. An
    in-place change of the view (`t.t_()`, `t.resize_()`) keeps the memory but not the other two."""
    return (
        array is not None
        and array.__array_interface__["data"][0] == t.data_ptr()
        and array.shape == tuple(t.shape)
        and array.strides == tuple(s * t.element_size() for s in t.stride())
        and array.dtype == t.numpy().dtype
    )


def fits(symbol: str, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether `x * y` or `x @ y` works for these shapes and dtypes, checked on the meta device (no work)."""
    if symbol == "@" and x.dtype != y.dtype:  # the meta device does not check this; matmul does
        return False
    op = operator.mul if symbol == "*" else operator.matmul
    try:
        op(x.to("meta"), y.to("meta"))
    except RuntimeError:
        return False
    return True


def operands(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Right-hand choices for * and @: each tensor and, for 2-D ones, its transpose as `name.T`."""
    return {**tensors, **{f"{n}.T": t.T for n, t in tensors.items() if t.dim() == 2}}


def next_name(taken: set[str]) -> str:
    """a, b, c, … z, then t1, t2, …"""
    for c in "abcdefghijklmnopqrstuvwxyz":
        if c not in taken and c != "torch":
            return c
    i = 1
    while f"t{i}" in taken:
        i += 1
    return f"t{i}"


def valid_name(name: str) -> str:
    name = name.strip()
    if (
        not name.isidentifier()
        or name.startswith("_")
        or name in ("torch", "np", "numpy")
        or keyword.iskeyword(name)
    ):
        raise ExprError(
            N_("'{name}' cannot be a tensor name: use letters, digits and _, starting with a letter."),
            name=name,
        )
    return name


@dataclass
class ResultCache:
    """The expression box's last result, kept until its text or a tensor it reads changes (another object
    under a name, or an in-place change: the tensor's `_version`). A rerun (a click anywhere on the page)
    then shows and saves the same result instead of drawing torch.rand again or repeating an add_."""

    reads: tuple[str, list[tuple[str, Any, int | None]]] | None = None
    result: Any = None
    changed: tuple[str, ...] = ()  # the names whose tensor the evaluation changed in place (its _version)

    def result_of(self, text: str, names: dict[str, Any]) -> Any:
        """`text` evaluated with `names` (core.expr), or its ExprError; evaluated again only when needed."""
        if self.reads is not None and _same_reads(self.reads, _reads(text, names)):
            return self.result
        before = _reads(text, names)
        try:
            result = evaluate(text, names)
        except ExprError as e:
            result = e
        # what it read as it is now: an in-place expression has changed it, and must not run again
        self.reads, self.result = _reads(text, names), result
        self.changed = tuple(n for (n, _o, v0), (_n, _p, v1) in zip(before[1], self.reads[1]) if v0 != v1)
        return result


def _reads(text: str, names: dict[str, Any]) -> tuple[str, list[tuple[str, Any, int | None]]]:
    """An expression's text, and each name it reads with the object that name holds and its `_version`."""
    return text, [(n, names.get(n), getattr(names.get(n), "_version", None)) for n in sorted(names_in(text))]


def _same_reads(a: tuple[str, list], b: tuple[str, list]) -> bool:
    """The same text reading the very same objects, unchanged (objects compared by identity: `==` on
    tensors compares their elements)."""
    (text_a, reads_a), (text_b, reads_b) = a, b
    return (
        text_a == text_b
        and len(reads_a) == len(reads_b)
        and all(x[0] == y[0] and x[1] is y[1] and x[2] == y[2] for x, y in zip(reads_a, reads_b))
    )
