"""A safe evaluator for tensor expressions typed into the UI, e.g. `torch.matmul(a, b.T) * 2`.

The one place where typed text becomes computation, so it allows, rather than forbids: the text is
parsed with `ast` and only these nodes run — the session's tensor (and numpy array) names, number and
short string literals, arithmetic and `@`, comparisons, subscripts and slices, tuples/lists of those,
calls to allow-listed `torch.*` functions and tensor methods, and allow-listed attributes. No builtins,
no imports, no dunders, no lambdas or comprehensions, no attribute chains out of torch; the callables it
hands around are private objects that typed text cannot forge.

Three ideas, three modules: this one is the visitor (one `_node_<Type>` method per allowed node, and the
allow-lists); core/expr_budget.py bounds resources before they are spent (every operation sized on the
`meta` device and charged against memory, work and time caps); core/expr_explain.py turns errors into one
plain sentence (`ExprError`, an `N_`-marked English template and its values, so the app can show them
translated; words that fill a template, such as "a numpy array", are `Phrase`s, translatable the same way).
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .devices import DeviceError, resolve_device
from .expr_budget import MAX_ELEMENTS, Budget, meta_index, warm_meta_kernels
from .expr_explain import TORCH_ERRORS, ExprError, Refused, as_expr_error, shape_text, syntax_error
from .messages import N_, Phrase

# what the rest of the app uses (core.tensors, core.autograd, the pages, the exercises)
__all__ = [
    "KEYWORDS",
    "MAX_ELEMENTS",
    "MAX_LENGTH",
    "TENSOR_METHODS",
    "TORCH_FUNCTIONS",
    "Evaluator",
    "ExprError",
    "Printed",
    "Refused",
    "as_expr_error",
    "evaluate",
    "names_in",
    "printed",
]

MAX_SECONDS = 1.0  # an evaluation's time, checked before each operation (core/expr_budget.py)
MAX_LENGTH = 2_000
MAX_NODES = 300
MAX_INT = 10**12

# what both torch.<name>(t, …) and t.<name>(…) may call: math, reductions, shapes
SHARED = set(
    """
    sum mean max min amax amin prod std var abs exp log sqrt sin cos tanh sigmoid relu softmax
    argmax argmin reshape transpose permute t flatten squeeze unsqueeze matmul mm add sub mul div
    pow clamp cumsum numel round floor ceil sort topk
    """.split()
)
TORCH_FUNCTIONS = SHARED | set(
    """
    tensor empty zeros ones rand randn randint arange linspace eye full empty_like zeros_like
    ones_like rand_like randn_like full_like from_numpy device cat stack bmm dot outer where maximum
    minimum allclose equal
    """.split()
)
CUDA_FUNCTIONS = {"is_available", "device_count"}  # torch.cuda.* that only report
TENSOR_METHODS = SHARED | set(
    """
    all any view add_ sub_ mul_ div_ zero_ fill_ copy_ t_ clamp_ contiguous clone float double int
    long half bool to cpu new_empty new_zeros new_ones new_full size dim norm detach item
    is_contiguous stride data_ptr element_size expand repeat type_as numpy tolist
    """.split()
)
ATTRIBUTES = {
    "T",
    "mT",
    "shape",
    "dtype",
    "device",
    "ndim",
    "requires_grad",
    "grad",
    "is_leaf",
    "grad_fn",
    "data",
}
DTYPES = {
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "float",
    "double",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "int",
    "long",
    "uint8",
    "bool",
    "complex64",
}
KEYWORDS = {
    "dim",
    "keepdim",
    "dtype",
    "device",
    "requires_grad",
    "out",
    "out_dtype",
    "min",
    "max",
    "k",
    "largest",
    "descending",
    "start_dim",
    "end_dim",
    "diagonal",
    "correction",
    "unbiased",
    "p",
    "alpha",
    "steps",
    "non_blocking",
    "copy",
    "dims",
    "rtol",
    "atol",
    "decimals",
    "fill_value",
    "low",
    "high",
    "size",
}
# no meta kernel or none needed: they allocate nothing, report a number, or make a bounded copy
BIN_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
}
SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
}
COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
WHY = Phrase(
    N_("the box runs only torch's tensor functions, so typed text cannot reach files or Python itself")
)


class _Namespace:
    """Stands for `torch` or `torch.cuda` inside expressions: only allow-listed names can be read."""

    def __init__(self, name: str):
        self.name = name


@dataclass(frozen=True)
class _Function:
    """An allow-listed function or bound method, as the evaluator hands it from `.` to `(...)`.
    Only _node_Attribute makes these, so typed text (a tuple of strings, say) can never pose as one."""

    space: str  # "torch", "torch.cuda" or "method"
    name: str
    owner: torch.Tensor | None = None


TORCH, CUDA = _Namespace("torch"), _Namespace("torch.cuda")
NUMBER = (int, float, bool)


@dataclass(frozen=True)
class Printed:
    """A result as Python prints it (`repr`), with its shape and dtype where it has them."""

    text: str
    shape: str | None = None
    dtype: str | None = None


def printed(value: Any) -> Printed:
    """What `print(repr(value))` shows, the way a notebook cell would, plus shape and dtype beside."""
    if isinstance(value, torch.Tensor):
        return Printed(repr(value), str(tuple(value.shape)), str(value.dtype))
    if isinstance(value, np.ndarray):
        return Printed(repr(value), str(value.shape), str(value.dtype))
    return Printed(repr(value))


def names_in(text: str) -> set[str]:
    """The names an expression reads (tensors, arrays, torch), none when it cannot be parsed: what its
    result depends on besides the text itself."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _device_arg(value: Any) -> None:
    """A device the user names must exist here: a name, a torch.device, or a number (a CUDA index)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"cuda:{value}"
    if isinstance(value, (str, torch.device)):
        try:
            resolve_device(str(value))
        except DeviceError as e:
            raise as_expr_error(e) from None


class Evaluator:
    def __init__(self, names: dict[str, Any], max_elements: int = MAX_ELEMENTS):
        self.names = names
        self.budget = Budget(max_elements)

    # --- entry ---------------------------------------------------------------------------------
    def evaluate(self, text: str) -> Any:
        if len(text) > MAX_LENGTH:
            raise Refused(
                N_(
                    "The expression is {length:,} characters long and the limit here is {limit:,}, which "
                    "keeps every evaluation short."
                ),
                length=len(text),
                limit=MAX_LENGTH,
            )
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise syntax_error(e, text) from None
        except ValueError:  # a null byte
            raise ExprError(
                N_("That is not a valid expression (it holds a character Python cannot read).")
            ) from None
        except (RecursionError, MemoryError):
            raise Refused(N_("The expression is nested too deeply for this box to read.")) from None
        count = sum(1 for _ in ast.walk(tree))
        if count > MAX_NODES:
            raise Refused(
                N_(
                    "The expression has {count} parts and the limit here is {limit}, which keeps every "
                    "evaluation short."
                ),
                count=count,
                limit=MAX_NODES,
            )
        warm_meta_kernels()
        self.budget.start(MAX_SECONDS)
        try:
            result = self._eval(tree.body)
        except RecursionError:
            raise Refused(N_("The expression is nested too deeply for this box to evaluate.")) from None
        if isinstance(result, _Function):
            label = _label(tree.body)
            raise ExprError(
                N_("{label} is a function: call it with parentheses, like {label}()."), label=label
            )
        if isinstance(result, _Namespace):
            raise ExprError(
                N_("{name} is a module: use one of its functions, like torch.ones(2, 3)."), name=result.name
            )
        return result

    # --- nodes ---------------------------------------------------------------------------------
    def _eval(self, node: ast.AST) -> Any:
        method = getattr(self, f"_node_{type(node).__name__}", None)
        if method is None:
            raise Refused(
                N_(
                    "{what} is not allowed here: the box evaluates expressions made of tensors, numbers, "
                    "operators, indexing and torch calls."
                ),
                what=_describe(node),
            )
        return method(node)

    def _node_Constant(self, node: ast.Constant) -> Any:
        v = node.value
        if (
            v is None
            or v is Ellipsis
            or isinstance(v, (bool, float))
            or (isinstance(v, int) and abs(v) <= MAX_INT)
        ):
            return v
        if isinstance(v, int):
            raise Refused(
                N_("The number {digits}… is too large for this box, which caps numbers at 10¹²."),
                digits=str(v)[:20],
            )
        if isinstance(v, str) and len(v) <= 20:
            return v  # device names and string options ("cpu", "cuda:0")
        raise Refused(
            N_(
                "A {type} literal is not allowed here: only numbers and short strings such as device names "
                "are."
            ),
            type=type(v).__name__,
        )

    def _node_Name(self, node: ast.Name) -> Any:
        if node.id == "torch":
            return TORCH
        if node.id.startswith("_"):
            raise Refused(N_("'{name}' is not allowed: names starting with _ are private."), name=node.id)
        if node.id in self.names:
            return self.names[node.id]
        if hasattr(builtins, node.id):
            raise Refused(
                N_("'{name}' is not allowed: Python's built-in functions cannot run in this box."),
                name=node.id,
            )
        # the numpy bridge's arrays can be read too, but they are not tensors
        tensors = sorted(n for n, v in self.names.items() if isinstance(v, torch.Tensor))
        known = ", ".join(tensors) or Phrase(N_("none yet"))
        raise ExprError(N_("There is no tensor named '{name}'. Tensors: {known}."), name=node.id, known=known)

    def _node_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self._eval(e) for e in node.elts)

    def _node_List(self, node: ast.List) -> list:
        return [self._eval(e) for e in node.elts]

    def _node_Slice(self, node: ast.Slice) -> slice:
        return slice(
            *(None if n is None else self._index(self._eval(n)) for n in (node.lower, node.upper, node.step))
        )

    def _node_UnaryOp(self, node: ast.UnaryOp) -> Any:
        ops = {ast.USub: ("-", operator.neg), ast.UAdd: ("+", operator.pos)}
        if type(node.op) not in ops:
            raise Refused(
                N_("{what} is not allowed here: of the unary operators only - and + are."),
                what=_describe(node),
            )
        symbol, op = ops[type(node.op)]
        value = self._eval(node.operand)
        if isinstance(value, (int, float)):
            return op(value)
        if not isinstance(value, torch.Tensor):
            raise Refused(
                N_("Unary {symbol} is not allowed on {kind}: it works on tensors and numbers."),
                symbol=symbol,
                kind=_kind(value),
            )
        return self.budget.run(symbol, op, [value], {}, _Labels(node.operand))

    def _node_BinOp(self, node: ast.BinOp) -> Any:
        op = BIN_OPS.get(type(node.op))
        if op is None:
            raise Refused(
                N_("The operator {name} is not allowed here: only + - * / // % ** and @ are."),
                name=type(node.op).__name__,
            )
        left, right = self._eval(node.left), self._eval(node.right)
        symbol = SYMBOLS[type(node.op)]
        for v in (left, right):
            if not isinstance(v, (torch.Tensor, *NUMBER)):
                raise Refused(
                    N_("{symbol} is not allowed on {kind}: it works on tensors and numbers only."),
                    symbol=symbol,
                    kind=_kind(v),
                )
        if isinstance(left, NUMBER) and isinstance(right, NUMBER):
            return self._number_op(symbol, op, left, right)
        return self.budget.run(symbol, op, [left, right], {}, _Labels(node.left, node.right))

    def _node_Compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1:
            raise Refused(N_("Chained comparisons are not allowed here: compare two things at a time."))
        op = COMPARE.get(type(node.ops[0]))
        if op is None:
            raise Refused(N_("That comparison is not allowed here: only <, <=, >, >=, == and != are."))
        left, right = self._eval(node.left), self._eval(node.comparators[0])
        for v in (left, right):
            if not isinstance(v, (torch.Tensor, *NUMBER, tuple, torch.dtype, torch.device)):
                raise Refused(
                    N_("Comparing {kind} is not allowed here: compare tensors, numbers or shapes."),
                    kind=_kind(v),
                )
        return self.budget.run(
            Phrase(N_("comparison")), op, [left, right], {}, _Labels(node.left, node.comparators[0])
        )

    def _node_Subscript(self, node: ast.Subscript) -> Any:
        value = self._eval(node.value)
        index = self._eval(node.slice)
        if isinstance(value, tuple) and isinstance(index, (int, slice)):  # x.shape[0], x.size()[1:]
            try:
                return value[index]
            except IndexError:
                raise ExprError(
                    N_("{label} has {count} items, so [{index}] is out of range."),
                    label=_label(node.value),
                    count=len(value),
                    index=index,
                ) from None
        if not isinstance(value, torch.Tensor):
            raise Refused(
                N_("Indexing {kind} is not allowed here: only tensors and shapes can be indexed."),
                kind=_kind(value),
            )
        items = index if isinstance(index, tuple) else (index,)
        items = tuple(self._index_item(i) for i in items)
        index = items if isinstance(index, tuple) else items[0]
        label = Phrase(N_("Indexing {label} ({shape})"), label=_label(node.value), shape=shape_text(value))
        return self.budget.run(
            label, operator.getitem, [value, index], {}, [_label(node.value)], meta=meta_index
        )

    def _node_Attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        name = node.attr
        if name.startswith("_"):
            raise Refused(N_("'{name}' is not allowed: names starting with _ are private."), name=name)
        if base is TORCH:
            if name in DTYPES:
                return getattr(torch, name)
            if name == "cuda":
                return CUDA
            if name in TORCH_FUNCTIONS:
                return _Function("torch", name)
            raise Refused(N_("torch.{name} is not allowed here: {why}."), name=name, why=WHY)
        if base is CUDA:
            if name in CUDA_FUNCTIONS:
                return _Function("torch.cuda", name)
            raise Refused(
                N_(
                    "torch.cuda.{name} is not allowed here: of torch.cuda, only is_available and "
                    "device_count are."
                ),
                name=name,
            )
        if isinstance(base, torch.Tensor):
            if name in ATTRIBUTES:
                value = getattr(base, name)
                return type(value).__name__ if name == "grad_fn" and value is not None else value
            if name in TENSOR_METHODS:
                return _Function("method", name, base)
            raise Refused(N_("The tensor attribute '{name}' is not allowed here: {why}."), name=name, why=WHY)
        raise Refused(
            N_("'.{name}' is not allowed after {kind}: attributes can follow only a tensor or torch."),
            name=name,
            kind=_kind(base),
        )

    def _node_Call(self, node: ast.Call) -> Any:
        target = self._eval(node.func)
        if not isinstance(target, _Function):
            raise Refused(
                N_("Calling {label} is not allowed: only torch functions and tensor methods can be called."),
                label=_label(node.func),
            )
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise Refused(N_("*arguments are not allowed here: write each argument out."))
        args = [self._eval(a) for a in node.args]
        kwargs, out = {}, None
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in KEYWORDS:
                raise Refused(
                    N_("The keyword argument '{name}' is not allowed here: {why}."),
                    name=kw.arg or "**",
                    why=WHY,
                )
            if kw.arg == "out":
                out = self._out(kw.value, target)
            else:
                kwargs[kw.arg] = self._eval(kw.value)
        names = [_label(a) for a in node.args]
        if target.space == "torch.cuda":
            if args or kwargs:
                raise ExprError(N_("torch.cuda.{name} takes no arguments."), name=target.name)
            return getattr(torch.cuda, target.name)()
        if any(isinstance(a, np.ndarray) for a in [*args, *kwargs.values()]) and target.name not in (
            "from_numpy",
            "tensor",
        ):
            raise Refused(
                N_(
                    "A numpy array cannot go into {name}: turn it into a tensor first, with torch.from_numpy."
                ),
                name=target.name,
            )
        _device_arg(kwargs.get("device"))
        if target.space == "torch":
            if target.name == "tensor":
                return self._tensor(args, kwargs)
            if target.name == "device":
                return self._device(args, kwargs)
            return self.budget.run(target.name, getattr(torch, target.name), args, kwargs, names, out=out)
        method = target.name
        if method == "to":
            for a in args:
                _device_arg(a)
        return self.budget.run(
            method,
            lambda *a, **k: getattr(a[0], method)(*a[1:], **k),
            [target.owner, *args],
            kwargs,
            [_label(node.func.value), *names],
        )

    # --- helpers -------------------------------------------------------------------------------
    def _index(self, v: Any) -> Any:
        if isinstance(v, (int, torch.Tensor)) or v is None:
            return v
        raise Refused(
            N_("A slice bound cannot be {kind}: slice bounds must be whole numbers."), kind=_kind(v)
        )

    def _index_item(self, i: Any) -> Any:
        """One part of an index: numbers, slices, None, ..., tensors; a list becomes a tensor of indices."""
        if isinstance(i, list):
            _check_literal(i)
            try:
                return torch.tensor(i)
            except TORCH_ERRORS as e:
                raise ExprError(
                    N_("That list cannot be an index: {reason}"), reason=str(e).splitlines()[0]
                ) from None
        if i is None or i is Ellipsis or isinstance(i, (int, slice, torch.Tensor)):
            return i
        raise Refused(
            N_("An index cannot be {kind}: use numbers, slices, None, ... or tensors."), kind=_kind(i)
        )

    def _out(self, node: ast.AST, target: _Function) -> torch.Tensor:
        """out= must name one of the session's tensors: the result is written there, in place."""
        if target.space != "torch":
            raise Refused(N_("out= is allowed only in torch functions, such as torch.add(x, y, out=result)."))
        value = self._eval(node)
        if not isinstance(node, ast.Name) or not isinstance(value, torch.Tensor):
            raise Refused(
                N_("out= must name one of your tensors, so that the result lands where you can see it.")
            )
        return value

    def _number_op(self, symbol: str, op: Callable, a: float, b: float) -> Any:
        if symbol == "**" and abs(b) > 64 and abs(a) > 1:
            raise Refused(
                N_("{a} {symbol} {b} is not allowed here: the result would be too large to hold."),
                a=a,
                symbol=symbol,
                b=b,
            )
        try:
            result = op(a, b)
        except ZeroDivisionError:
            return math.copysign(math.inf, a) if a else math.nan  # as a tensor would: inf / nan, no crash
        except OverflowError:
            raise Refused(
                N_("{a} {symbol} {b} is not allowed here: the result would be too large to hold."),
                a=a,
                symbol=symbol,
                b=b,
            ) from None
        except (TypeError, ValueError) as e:
            raise ExprError(
                N_("{fn} failed: {reason}"), fn=f"{a} {symbol} {b}", reason=str(e).splitlines()[0]
            ) from None
        if isinstance(result, int) and abs(result) > MAX_INT:
            raise Refused(
                N_("{a} {symbol} {b} is not allowed here: numbers are capped at 10¹²."),
                a=a,
                symbol=symbol,
                b=b,
            )
        if isinstance(result, complex):
            raise ExprError(
                N_("{a} {symbol} {b} is a complex number; use a tensor with dtype=torch.complex64."),
                a=a,
                symbol=symbol,
                b=b,
            )
        return result

    def _tensor(self, args: list[Any], kwargs: dict[str, Any]) -> torch.Tensor:
        """torch.tensor(data): numbers, nested lists of numbers, or a numpy array (copied)."""
        if len(args) != 1:
            raise ExprError(N_("torch.tensor takes one argument: a number or a (nested) list of numbers."))
        if not isinstance(args[0], np.ndarray):
            _check_literal(args[0])
        self.budget.charge("torch.tensor", _numel_literal(args[0]) * 8, 0)
        try:
            return torch.tensor(args[0], **kwargs)
        except TORCH_ERRORS as e:
            raise ExprError(
                N_("{fn} failed: {reason}"), fn="torch.tensor", reason=str(e).splitlines()[0]
            ) from None

    def _device(self, args: list[Any], kwargs: dict[str, Any]) -> torch.device:
        if kwargs or not 1 <= len(args) <= 2 or not all(isinstance(a, (str, int)) for a in args):
            raise ExprError(
                N_("torch.device takes a device name, like torch.device('cpu') or torch.device('cuda', 0).")
            )
        try:
            return torch.device(*args)
        except TORCH_ERRORS as e:
            raise ExprError(
                N_("{fn} failed: {reason}"), fn="torch.device", reason=str(e).splitlines()[0]
            ) from None


def _check_literal(value: Any, depth: int = 0) -> None:
    if depth > 8:
        raise Refused(N_("torch.tensor data is nested too deeply: at most 8 levels of lists are allowed."))
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_literal(v, depth + 1)
    elif not isinstance(value, NUMBER):
        raise Refused(
            N_("torch.tensor data cannot hold {kind}: only numbers or nested lists of numbers."),
            kind=_kind(value),
        )


def _numel_literal(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.size
    if isinstance(value, (list, tuple)):
        return sum(_numel_literal(v) for v in value)
    return 1


def _kind(value: Any) -> str:
    """What a value is, in words for a message."""
    if isinstance(value, np.ndarray):
        return Phrase(N_("a numpy array"))
    if isinstance(value, _Function):
        return Phrase(N_("the function {name}"), name=value.name)
    if isinstance(value, _Namespace):
        return Phrase(N_("the module {name}"), name=value.name)
    if isinstance(value, torch.Size):
        return Phrase(N_("a shape"))
    if value is None:
        return "None"
    name = type(value).__name__
    return Phrase(N_("an {type}") if name[0] in "aeiou" else N_("a {type}"), type=name)


def _label(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:40]
    except (ValueError, TypeError, AttributeError, RecursionError):
        return Phrase(N_("that"))


class _Labels(Sequence):
    """The learner's text of each operand, unparsed only when a message names it: most operations succeed,
    and unparsing took a fifth of each step of the descent chart."""

    def __init__(self, *nodes: ast.AST):
        self._nodes = nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __getitem__(self, i: int) -> str:
        return _label(self._nodes[i])


def _describe(node: ast.AST) -> str:
    kinds = {
        "Lambda": N_("A lambda"),
        "ListComp": N_("A comprehension"),
        "GeneratorExp": N_("A generator"),
        "DictComp": N_("A comprehension"),
        "SetComp": N_("A comprehension"),
        "JoinedStr": N_("An f-string"),
        "Dict": N_("A dict"),
        "Set": N_("A set"),
        "IfExp": N_("An if-expression"),
        "NamedExpr": N_("An assignment (:=)"),
        "Await": "await",
        "Yield": "yield",
        "BoolOp": "and/or",
        "Starred": N_("*unpacking"),
        "Not": "not",
        "Invert": "~",
    }
    key = type(node.op).__name__ if isinstance(node, ast.UnaryOp) else type(node).__name__
    return Phrase(kinds[key]) if key in kinds else f"'{key}'"


def evaluate(text: str, names: dict[str, Any]) -> Any:
    """Evaluate `text` with the session's tensors (and numpy arrays); ExprError with a plain sentence
    when refused or failing (Refused, a subclass, for what the box does not allow)."""
    return Evaluator(names).evaluate(text)
