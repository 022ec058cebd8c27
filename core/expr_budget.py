"""The expression box's budget (core/expr.py): what one evaluation may spend, charged before it is spent.

Every operation (calls, operators, indexing, advanced indexing) is first run on the `meta` device (shapes
only, no memory) and refused if its result would exceed MAX_ELEMENTS, if the evaluation's new tensors
together would exceed MAX_BYTES, or its estimated work MAX_WORK; between operations the evaluation stops
once it has run its seconds. Views and in-place results cost no memory. Arithmetic on 0-d tensors and
numbers (one element in, one out) is charged after it runs instead: nothing there needs sizing first.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .expr_explain import TORCH_ERRORS, Refused, explain, shape_text
from .messages import N_, Phrase

MAX_ELEMENTS = 10_000_000  # in any one result
MAX_BYTES = 400_000_000  # new tensors of one evaluation together (views and in-place results are free)
MAX_WORK = 1_000_000_000  # element operations (multiply-adds for matmul) of one evaluation
MAX_LIST = 10_000  # elements `tolist()` may turn into Python numbers
SKIP_META = {"numpy", "tolist", "item", "data_ptr", "from_numpy", "allclose", "equal", "size", "dim"}
MATMULS = {"matmul", "mm", "bmm", "@", "dot"}  # work: result × inner size
SORTS = {"sort", "topk"}
FACTORIES = {"empty", "zeros", "ones", "rand", "randn", "randint", "arange", "linspace", "eye", "full"}
# arithmetic whose result is 0-d when every operand is a 0-d tensor or a number: nothing to size beforehand
SCALAR_ARITHMETIC = {"+", "-", "*", "/", "//", "%", "**"}


@functools.cache
def warm_meta_kernels() -> None:
    """torch's first operation on the meta device loads its meta kernels (about a second here): done once,
    before the first evaluation's clock starts, so that it is not refused as too slow."""
    m = torch.ones(2, 2, device="meta")
    (m @ m + 1).sum()


def _to_meta(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")
    if isinstance(x, torch.device):
        return torch.device("meta")
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        return type(x)(_to_meta(v) for v in x)
    return x


def _tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    return []


def _numel(x: Any) -> int:
    return sum(t.numel() for t in _tensors(x))


def _scalars(args: list[Any]) -> bool:
    """0-d tensors and numbers only, at least one tensor: what f(x, y) of the descent chart computes with."""
    tensors = _tensors(args)
    return bool(tensors) and all(
        isinstance(a, (bool, int, float)) or (isinstance(a, torch.Tensor) and a.dim() == 0) for a in args
    )


def _work(fn_name: str, args: list[Any], result: Any) -> int:
    """A rough count of element operations: what bounds an operation's time once its sizes are bounded."""
    inputs, out = _numel(args), _numel(result)
    tensors = _tensors(args)
    if fn_name in MATMULS and tensors and tensors[0].dim() >= 1:
        return max(out, 1) * tensors[0].shape[-1] + inputs
    if fn_name in SORTS:
        return inputs * max(1, math.ceil(math.log2(max(inputs, 2))))
    return inputs + out


class Budget:
    """One evaluation's allowance: elements per result, new bytes and element operations in all, and a
    deadline checked before each operation. Every operation is run on the meta device first (sizes only;
    arithmetic on 0-d tensors is sized after it runs) and charged; what would exceed a cap is refused
    before it allocates or runs."""

    def __init__(self, max_elements: int = MAX_ELEMENTS):
        self.max_elements = max_elements
        self.bytes = 0
        self.work = 0
        self.seconds = math.inf
        self.deadline = math.inf

    def start(self, seconds: float) -> None:
        """The clock starts: operations begun after `seconds` from now are refused."""
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def charge(self, what: str, new_bytes: int, work: int) -> None:
        """Add one operation's memory and work to the evaluation's totals; refuse past the caps."""
        self.bytes += new_bytes
        self.work += work
        if self.bytes > MAX_BYTES:
            raise Refused(
                N_(
                    "{what} would bring this expression's new tensors to {mb:,.0f} MB and the limit here is "
                    "{limit:,.0f} MB, so it is refused before allocating."
                ),
                what=what,
                mb=self.bytes / 1e6,
                limit=MAX_BYTES / 1e6,
            )
        if self.work > MAX_WORK:
            raise Refused(
                N_(
                    "{what} would bring this expression to about {work:,} element operations and the limit "
                    "here is {limit:,}, so it is refused before running."
                ),
                what=what,
                work=self.work,
                limit=MAX_WORK,
            )

    def run(
        self,
        fn_name: str,
        fn: Callable,
        args: list[Any],
        kwargs: dict[str, Any],
        names: Sequence[str],
        out: torch.Tensor | None = None,
        meta: Callable | None = None,
    ) -> Any:
        """Run on the meta device first (sizes only) and refuse what is too big, then run for real."""
        if time.monotonic() > self.deadline:
            raise Refused(
                N_("The expression ran longer than {seconds:g} s, so it was stopped before {fn}."),
                seconds=self.seconds,
                fn=fn_name,
            )
        if fn_name == "tolist" and args[0].numel() > MAX_LIST:
            raise Refused(
                N_(
                    "tolist would make {count:,} Python numbers and the limit here is {limit:,}, so take "
                    "fewer elements by indexing first."
                ),
                count=args[0].numel(),
                limit=MAX_LIST,
            )
        if fn_name in SCALAR_ARITHMETIC and not kwargs and out is None and _scalars(args):
            # one element in, one out: run it, then charge what it made (a dry run on the meta device
            # tripled the cost of each step of the descent chart, which evaluates f(x, y) once per step)
            try:
                result = fn(*args)
            except TORCH_ERRORS as e:
                # refused: a dry run's message comes first, as it would have without this shortcut
                self.meta_run(fn_name, fn, args, kwargs, names, meta)
                raise explain(fn_name, args, names, e) from None
            made = 0 if any(result is a for a in args) else result.element_size()  # +x is x itself
            self.charge(fn_name, made, _work(fn_name, args, result))
            return result
        if fn_name not in SKIP_META:
            result = self.meta_run(fn_name, fn, args, kwargs, names, meta)
            if out is not None:
                if not isinstance(result, torch.Tensor) or result.shape != out.shape:
                    shape = (
                        shape_text(result) if isinstance(result, torch.Tensor) else Phrase(N_("not a tensor"))
                    )
                    raise Refused(
                        N_(
                            "out= needs a tensor of the result's shape ({shape}), and {out} would have to be "
                            "resized."
                        ),
                        shape=shape,
                        out=shape_text(out),
                    )
                kwargs = {**kwargs, "out": out}
        else:
            self.charge(fn_name, sum(t.numel() * t.element_size() for t in _tensors(args)), _numel(args))
        try:
            return fn(*args, **kwargs)
        except TORCH_ERRORS as e:
            raise explain(fn_name, args, names, e) from None

    def meta_run(
        self,
        fn_name: str,
        fn: Callable,
        args: list[Any],
        kwargs: dict[str, Any],
        names: Sequence[str],
        meta: Callable | None,
    ) -> Any:
        """The result's shapes, from the meta device or from `meta` (which gets the real arguments)."""
        meta_args = _to_meta(args)
        meta_kwargs = {**kwargs, "device": "meta"} if fn_name in FACTORIES or "device" in kwargs else kwargs
        if fn_name == "to":  # positional devices ("cuda", torch.device) move nothing on the meta device
            meta_args = [a if not isinstance(a, str) else "meta" for a in meta_args]
        try:
            result = meta(*args) if meta else fn(*meta_args, **meta_kwargs)
        except NotImplementedError:
            # no meta kernel (data-dependent sizes such as torch.where(cond)): bounded by the inputs
            result = torch.empty(_numel(args) * max([1] + [t.dim() for t in _tensors(args)]), device="meta")
        except TORCH_ERRORS as e:
            raise explain(fn_name, args, names, e) from None
        n = _numel(result)
        if n > self.max_elements:
            raise Refused(
                N_(
                    "{fn} would make a tensor of {count:,} elements; the limit here is {limit:,}, so it is "
                    "refused before allocating."
                ),
                fn=fn_name,
                count=n,
                limit=self.max_elements,
            )
        fresh = [
            t
            for t in _tensors(result)
            if not t._is_view()
            and not any(t is a for a in _tensors(meta_args))  # views and in-place: no new memory
        ]
        self.charge(fn_name, sum(t.numel() * t.element_size() for t in fresh), _work(fn_name, args, result))
        return result


def meta_index(value: torch.Tensor, index: Any) -> Any:
    """value[index] on the meta device: a boolean mask stands for its nonzero positions, one index
    tensor per masked dimension (what torch does), so even data-dependent indexing is sized exactly."""
    items = index if isinstance(index, tuple) else (index,)
    meta_items: list[Any] = []
    for i in items:
        if isinstance(i, torch.Tensor) and i.dtype == torch.bool and i.dim() == 0:
            meta_items.append(bool(i))
        elif isinstance(i, torch.Tensor) and i.dtype == torch.bool:
            count = int(i.count_nonzero())
            meta_items.extend(torch.empty(count, dtype=torch.long, device="meta") for _ in range(i.dim()))
        else:
            meta_items.append(_to_meta(i))
    return _to_meta(value)[tuple(meta_items)]
