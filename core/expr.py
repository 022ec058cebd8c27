"""A safe evaluator for tensor expressions typed into the UI, e.g. `torch.matmul(a, b.T) * 2`.

The one place where typed text becomes computation, so it allows, rather than forbids: the text is
parsed with `ast` and only these nodes run — the session's tensor names, number literals, arithmetic and
`@`, comparisons, subscripts and slices, tuples/lists of those, calls to allow-listed `torch.*`
functions and tensor methods, and allow-listed attributes. No builtins, no imports, no dunders, no
lambdas or comprehensions, no attribute chains out of torch. Every call is first run on the `meta`
device (shapes only, no memory) and refused if its result would exceed MAX_ELEMENTS.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

import torch

from .devices import DeviceError, resolve_device

MAX_ELEMENTS = 10_000_000
MAX_LENGTH = 2_000
MAX_NODES = 300
MAX_INT = 10**12

TORCH_FUNCTIONS = {
    "tensor",
    "zeros",
    "ones",
    "rand",
    "randn",
    "arange",
    "linspace",
    "eye",
    "full",
    "zeros_like",
    "ones_like",
    "rand_like",
    "randn_like",
    "full_like",
    "cat",
    "stack",
    "matmul",
    "mm",
    "bmm",
    "mul",
    "add",
    "sub",
    "div",
    "pow",
    "dot",
    "outer",
    "sum",
    "mean",
    "max",
    "min",
    "amax",
    "amin",
    "prod",
    "std",
    "var",
    "abs",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "softmax",
    "argmax",
    "argmin",
    "transpose",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "permute",
    "t",
    "where",
    "clamp",
    "maximum",
    "minimum",
    "cumsum",
    "allclose",
    "equal",
    "from_numpy",
    "numel",
    "sort",
    "topk",
    "round",
    "floor",
    "ceil",
}
FACTORIES = {
    "zeros",
    "ones",
    "rand",
    "randn",
    "arange",
    "linspace",
    "eye",
    "full",
}  # sized by numbers, not tensors
TENSOR_METHODS = {
    "sum",
    "mean",
    "max",
    "min",
    "amax",
    "amin",
    "prod",
    "std",
    "var",
    "abs",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "softmax",
    "argmax",
    "argmin",
    "reshape",
    "view",
    "transpose",
    "permute",
    "t",
    "flatten",
    "squeeze",
    "unsqueeze",
    "matmul",
    "mm",
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "add_",
    "sub_",
    "mul_",
    "div_",
    "zero_",
    "fill_",
    "clamp",
    "clamp_",
    "cumsum",
    "contiguous",
    "clone",
    "float",
    "double",
    "int",
    "long",
    "half",
    "bool",
    "to",
    "size",
    "dim",
    "numel",
    "norm",
    "detach",
    "item",
    "is_contiguous",
    "stride",
    "data_ptr",
    "element_size",
    "expand",
    "repeat",
    "round",
    "floor",
    "ceil",
    "sort",
    "topk",
    "type_as",
    "numpy",
    "tolist",
}
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
    "dims",
    "rtol",
    "atol",
    "decimals",
}
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


class ExprError(ValueError):
    """An expression that is refused or fails; the message is a sentence for the user."""


class _Torch:
    """Stands for the name `torch` inside expressions: only allow-listed functions and dtypes."""


TORCH = _Torch()


def _to_meta(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")
    if isinstance(x, (list, tuple)):
        return type(x)(_to_meta(v) for v in x)
    return x


def _numel(x: Any) -> int:
    if isinstance(x, torch.Tensor):
        return x.numel()
    if isinstance(x, (list, tuple)):
        return sum(_numel(v) for v in x)
    return 1


def _shape_text(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape)) or "scalar"


def _explain(fn_name: str, args: list[Any], names: list[str], error: Exception) -> ExprError:
    """torch's error as a plain sentence, with the shape rule for the common mistakes."""
    tensors = [(n, a) for n, a in zip(names, args) if isinstance(a, torch.Tensor)]
    if len(tensors) == 2 and tensors[0][1].dtype != tensors[1][1].dtype and "dtype" in str(error):
        (na, a), (nb, b) = tensors
        return ExprError(
            f"{fn_name} needs both tensors to have the same dtype: {na} is {a.dtype}, {nb} is "
            f"{b.dtype}. Convert one, e.g. {na}.float()."
        )
    if fn_name in ("matmul", "mm", "@") and len(tensors) == 2:
        (na, a), (nb, b) = tensors
        if a.dim() >= 1 and b.dim() >= 1:
            cols, rows = a.shape[-1], b.shape[0] if b.dim() == 1 else b.shape[-2]
            if cols != rows:
                return ExprError(
                    f"matmul needs {na}'s columns ({cols}) to equal {nb}'s rows ({rows}): "
                    f"{na} is {_shape_text(a)}, {nb} is {_shape_text(b)}."
                )
    if fn_name in ("+", "-", "*", "/", "//", "%", "**", "add", "sub", "mul", "div") and len(tensors) == 2:
        (na, a), (nb, b) = tensors
        return ExprError(
            f"{na} ({_shape_text(a)}) and {nb} ({_shape_text(b)}) cannot be broadcast together: "
            "comparing shapes from the right, each pair of sizes must be equal or one of them 1."
        )
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ExprError(f"{fn_name} failed: {first}")


class Evaluator:
    def __init__(self, names: dict[str, torch.Tensor], max_elements: int = MAX_ELEMENTS):
        self.names = names
        self.max_elements = max_elements

    # --- entry ---------------------------------------------------------------------------------
    def evaluate(self, text: str) -> Any:
        if len(text) > MAX_LENGTH:
            raise ExprError(f"The expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}.")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise ExprError(f"That is not a valid expression ({e.msg}, at column {e.offset}).") from None
        except (RecursionError, MemoryError, ValueError):
            raise ExprError("The expression is nested too deeply.") from None
        count = sum(1 for _ in ast.walk(tree))
        if count > MAX_NODES:
            raise ExprError(f"The expression has {count} parts; the limit is {MAX_NODES}.")
        try:
            return self._eval(tree.body)
        except RecursionError:
            raise ExprError("The expression is nested too deeply.") from None

    # --- nodes ---------------------------------------------------------------------------------
    def _eval(self, node: ast.AST) -> Any:
        method = getattr(self, f"_node_{type(node).__name__}", None)
        if method is None:
            raise ExprError(
                f"{_describe(node)} is not allowed here. Use tensor names, numbers, arithmetic, "
                "indexing and torch functions."
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
            raise ExprError(f"The number {str(v)[:20]}… is too large.")
        if isinstance(v, str) and len(v) <= 20:
            return v  # device names and einsum-free string options ("cpu", "cuda:0")
        raise ExprError(f"A {type(v).__name__} literal is not allowed here.")

    def _node_Name(self, node: ast.Name) -> Any:
        if node.id == "torch":
            return TORCH
        if node.id in self.names:
            return self.names[node.id]
        known = ", ".join(sorted(self.names)) or "none yet"
        raise ExprError(f"There is no tensor named '{node.id}'. Tensors: {known}.")

    def _node_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self._eval(e) for e in node.elts)

    def _node_List(self, node: ast.List) -> list:
        return [self._eval(e) for e in node.elts]

    def _node_Slice(self, node: ast.Slice) -> slice:
        part = lambda n: None if n is None else self._index(self._eval(n))
        return slice(part(node.lower), part(node.upper), part(node.step))

    def _node_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self._eval(node.operand)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
        raise ExprError(f"{_describe(node)} is not allowed here.")

    def _node_BinOp(self, node: ast.BinOp) -> Any:
        op = BIN_OPS.get(type(node.op))
        if op is None:
            raise ExprError(f"The operator {type(node.op).__name__} is not allowed here.")
        left, right = self._eval(node.left), self._eval(node.right)
        symbol = SYMBOLS[type(node.op)]
        if not isinstance(left, (torch.Tensor, int, float, bool)) or not isinstance(
            right, (torch.Tensor, int, float, bool)
        ):
            raise ExprError(f"{symbol} works on tensors and numbers only.")
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return self._number_op(symbol, op, left, right)
        names = [_label(node.left), _label(node.right)]
        return self._run(symbol, op, [left, right], {}, names)

    def _node_Compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1:
            raise ExprError("Chained comparisons are not allowed; compare two things at a time.")
        op = COMPARE.get(type(node.ops[0]))
        if op is None:
            raise ExprError("Only <, <=, >, >=, == and != comparisons are allowed.")
        left, right = self._eval(node.left), self._eval(node.comparators[0])
        return self._run(
            "comparison", op, [left, right], {}, [_label(node.left), _label(node.comparators[0])]
        )

    def _node_Subscript(self, node: ast.Subscript) -> Any:
        value = self._eval(node.value)
        if not isinstance(value, torch.Tensor):
            raise ExprError("Only tensors can be indexed.")
        index = self._eval(node.slice)
        if isinstance(index, list):
            index = torch.tensor(index)
        try:
            return value[index]
        except (IndexError, RuntimeError, TypeError, ValueError) as e:
            raise ExprError(
                f"Indexing {_label(node.value)} ({_shape_text(value)}) failed: {str(e).splitlines()[0]}"
            ) from None

    def _node_Attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        name = node.attr
        if name.startswith("_"):
            raise ExprError(f"'{name}' is not allowed: names starting with _ are private.")
        if base is TORCH:
            if name in DTYPES:
                return getattr(torch, name)
            if name in TORCH_FUNCTIONS:
                return ("torch", name)
            raise ExprError(
                f"torch.{name} is not available here. Allowed: {', '.join(sorted(TORCH_FUNCTIONS))}."
            )
        if isinstance(base, torch.Tensor):
            if name in ATTRIBUTES:
                value = getattr(base, name)
                return type(value).__name__ if name == "grad_fn" and value is not None else value
            if name in TENSOR_METHODS:
                return ("method", base, name)
            raise ExprError(f"Tensors' '{name}' is not available here.")
        raise ExprError(f"'.{name}' can only follow a tensor or torch.")

    def _node_Call(self, node: ast.Call) -> Any:
        target = self._eval(node.func)
        if not (isinstance(target, tuple) and target and target[0] in ("torch", "method")):
            raise ExprError(
                f"Only torch functions and tensor methods can be called, not {_label(node.func)}."
            )
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExprError("*arguments are not allowed here.")
        args = [self._eval(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in KEYWORDS:
                raise ExprError(f"The keyword argument '{kw.arg or '**'}' is not allowed here.")
            kwargs[kw.arg] = self._eval(kw.value)
        names = [_label(a) for a in node.args]
        if target[0] == "torch":
            fn_name = target[1]
            if fn_name == "tensor":
                return self._tensor(args, kwargs)
            return self._run(fn_name, getattr(torch, fn_name), args, kwargs, names)
        _, tensor, method = target
        bound = getattr(tensor, method)
        return self._run(
            method,
            lambda *a, **k: getattr(a[0], method)(*a[1:], **k),
            [tensor, *args],
            kwargs,
            [_label(node.func.value), *names],
            real=lambda: bound(*args, **kwargs),
        )

    # --- helpers -------------------------------------------------------------------------------
    def _index(self, v: Any) -> Any:
        if isinstance(v, (int, torch.Tensor)) or v is None:
            return v
        raise ExprError("Slice bounds must be whole numbers.")

    def _number_op(self, symbol: str, op, a: float, b: float) -> float:
        if symbol == "**" and abs(b) > 64 and abs(a) > 1:
            raise ExprError(f"{a} ** {b} is too large.")
        try:
            result = op(a, b)
        except ZeroDivisionError:
            return math.copysign(math.inf, a) if a else math.nan  # as a tensor would: inf / nan, no crash
        except OverflowError:
            raise ExprError(f"{a} {symbol} {b} is too large.") from None
        if isinstance(result, int) and abs(result) > MAX_INT:
            raise ExprError(f"{a} {symbol} {b} is too large.")
        return result

    def _tensor(self, args: list[Any], kwargs: dict[str, Any]) -> torch.Tensor:
        """torch.tensor(data): data must be numbers or nested lists of numbers."""
        if len(args) != 1:
            raise ExprError("torch.tensor takes one argument: a number or a (nested) list of numbers.")
        _check_literal(args[0])
        try:
            return torch.tensor(args[0], **kwargs)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ExprError(f"torch.tensor failed: {str(e).splitlines()[0]}") from None

    def _run(
        self, fn_name: str, fn, args: list[Any], kwargs: dict[str, Any], names: list[str], real=None
    ) -> Any:
        """Run on the meta device first (sizes only), refuse oversized results, then run for real."""
        if fn_name == "to":
            for v in [*args[1:], kwargs.get("device")]:
                if isinstance(v, str):
                    try:
                        resolve_device(v)
                    except DeviceError as e:
                        raise ExprError(str(e)) from None
        if fn_name not in ("numpy", "tolist", "item", "data_ptr", "from_numpy"):
            meta_kwargs = {**kwargs, "device": "meta"} if fn_name in FACTORIES else kwargs
            try:
                meta = fn(*_to_meta(args), **meta_kwargs)
            except NotImplementedError:
                meta = None  # no meta kernel: sizes are checked on the real result's inputs only
            except (RuntimeError, TypeError, ValueError, IndexError) as e:
                raise _explain(fn_name, args, names, e) from None
            if meta is not None and _numel(meta) > self.max_elements:
                raise ExprError(
                    f"{fn_name} would make a tensor of {_numel(meta):,} elements; the limit here is "
                    f"{self.max_elements:,}."
                )
        try:
            return real() if real else fn(*args, **kwargs)
        except (RuntimeError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
            raise _explain(fn_name, args, names, e) from None


def _check_literal(value: Any, depth: int = 0) -> None:
    if depth > 8:
        raise ExprError("torch.tensor data is nested too deeply.")
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_literal(v, depth + 1)
    elif not isinstance(value, (int, float, bool)):
        raise ExprError("torch.tensor data must be numbers or nested lists of numbers.")


def _label(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:40]
    except Exception:
        return "that"


def _describe(node: ast.AST) -> str:
    kinds = {
        "Lambda": "A lambda",
        "ListComp": "A comprehension",
        "GeneratorExp": "A generator",
        "DictComp": "A comprehension",
        "SetComp": "A comprehension",
        "JoinedStr": "An f-string",
        "Dict": "A dict",
        "Set": "A set",
        "IfExp": "An if-expression",
        "NamedExpr": "An assignment (:=)",
        "Await": "await",
        "Yield": "yield",
        "BoolOp": "and/or",
        "Starred": "*unpacking",
    }
    return kinds.get(type(node).__name__, f"'{type(node).__name__}'")


def evaluate(text: str, names: dict[str, torch.Tensor]) -> Any:
    """Evaluate `text` with the session's tensors; ExprError with a plain sentence when refused or failing."""
    return Evaluator(names).evaluate(text)
