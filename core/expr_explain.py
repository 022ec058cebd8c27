"""The expression box's messages (core/expr.py): torch's and Python's errors as one plain sentence.

torch words a failure for the people who write torch; the learner typed names. For the tutorial's common
mistakes (shapes that do not fit, dtypes that do not match, a view of the wrong size, an in-place result of
another dtype) the sentence names the learner's tensors, their shapes and the rule; anything else is
torch's first line after the function's name. Messages are `ExprError`s (core.messages' `MessageError`): an
`N_`-marked English template and its values, so the app can show them translated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch

from .messages import N_, MessageError, Phrase

# torch's texts for the tutorial's common mistakes, which get a sentence of their own (explain)
SHAPE_MISMATCH = re.compile(r"shape '\[(?P<shape>[-\d, ]*)\]' is invalid for input of size (?P<count>\d+)")
NOT_SCALAR = re.compile(r"a Tensor with (?P<count>\d+) elements cannot be converted to Scalar")
# what torch raises for arguments it does not accept (AssertionError: e.g. a CUDA call in a CPU build)
TORCH_ERRORS = (
    RuntimeError,
    TypeError,
    ValueError,
    IndexError,
    ZeroDivisionError,
    OverflowError,
    AssertionError,
)


class ExprError(MessageError):
    """An expression that is refused or fails; the message is a sentence for the user."""


class Refused(ExprError):
    """Something the box does not allow; the message is one sentence: what, and why."""


def as_expr_error(error: Exception) -> ExprError:
    """Another module's error as an ExprError, keeping its template and values when it has them."""
    if isinstance(error, MessageError):
        return ExprError(error.template, **error.values)
    return ExprError(str(error))


def shape_text(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape)) or Phrase(N_("scalar"))


def _broadcastable(a: torch.Size, b: torch.Size) -> bool:
    try:
        torch.broadcast_shapes(a, b)
    except RuntimeError:
        return False
    return True


Tensors = list[tuple[str, torch.Tensor]]  # the call's tensor arguments with the names the learner typed


def _in_place_dtype(fn_name: str, tensors: Tensors, text: str) -> ExprError | None:
    if fn_name.endswith("_") and tensors and ("can't be cast" in text or "Promotion" in text):
        n, t = tensors[0]
        return ExprError(
            N_(
                "{fn} cannot store that result in {name}, which is {dtype}: in-place operations keep the "
                "tensor's dtype, so use a {dtype} value or {new_fn}, which makes a new tensor."
            ),
            fn=fn_name,
            name=n,
            dtype=t.dtype,
            new_fn=fn_name[:-1],
        )
    return None


def _mixed_dtypes(fn_name: str, tensors: Tensors, text: str) -> ExprError | None:
    if len(tensors) == 2 and tensors[0][1].dtype != tensors[1][1].dtype and "dtype" in text:
        (na, a), (nb, b) = tensors
        return ExprError(
            N_(
                "{fn} needs both tensors to have the same dtype: {a} is {a_dtype}, {b} is {b_dtype}. "
                "Convert one, e.g. {a}.float()."
            ),
            fn=fn_name,
            a=na,
            a_dtype=a.dtype,
            b=nb,
            b_dtype=b.dtype,
        )
    return None


def _matmul_shapes(fn_name: str, tensors: Tensors, text: str) -> ExprError | None:
    if fn_name not in ("matmul", "mm", "@") or len(tensors) != 2:
        return None
    (na, a), (nb, b) = tensors
    if a.dim() < 1 or b.dim() < 1:
        return None
    cols, rows = a.shape[-1], b.shape[0] if b.dim() == 1 else b.shape[-2]
    if cols == rows:
        return None
    return ExprError(
        N_(
            "matmul needs {a}'s columns ({cols}) to equal {b}'s rows ({rows}): {a} is {a_shape}, "
            "{b} is {b_shape}."
        ),
        a=na,
        b=nb,
        cols=cols,
        rows=rows,
        a_shape=shape_text(a),
        b_shape=shape_text(b),
    )


def _broadcast(fn_name: str, tensors: Tensors, text: str) -> ExprError | None:
    if fn_name not in ("+", "-", "*", "/", "//", "%", "**", "add", "sub", "mul", "div") or len(tensors) != 2:
        return None
    (na, a), (nb, b) = tensors
    if _broadcastable(a.shape, b.shape):
        return None
    return ExprError(
        N_(
            "{a} ({a_shape}) and {b} ({b_shape}) cannot be broadcast together: comparing shapes from "
            "the right, each pair of sizes must be equal or one of them 1."
        ),
        a=na,
        a_shape=shape_text(a),
        b=nb,
        b_shape=shape_text(b),
    )


def _view_size(fn_name: str, tensors: Tensors, text: str) -> ExprError | None:
    if fn_name not in ("view", "reshape") or not tensors or not (bad := SHAPE_MISMATCH.search(text)):
        return None
    n = tensors[0][0]
    shape = [int(s) for s in bad["shape"].split(",") if s.strip()]
    count, known = int(bad["count"]), math.prod(s for s in shape if s != -1)
    if -1 not in shape:
        return ExprError(
            N_(
                "{name} has {count} elements, which cannot be arranged as ({shape}): that shape holds "
                "{total}."
            ),
            name=n,
            count=count,
            shape=bad["shape"],
            total=known,
        )
    if known:
        return ExprError(
            N_(
                "{name} has {count} elements, which cannot be arranged as ({shape}): {count} is not a "
                "multiple of {known}."
            ),
            name=n,
            count=count,
            shape=bad["shape"],
            known=known,
        )
    return None


def _item_of_many(fn_name: str, tensors: Tensors, text: str) -> ExprError | None:
    if fn_name == "item" and tensors and (many := NOT_SCALAR.search(text)):
        return ExprError(
            N_("item() needs a tensor of one element, and {name} has {count}."),
            name=tensors[0][0],
            count=int(many["count"]),
        )
    return None


# the tutorial's common mistakes, each recognised by one rule, in this order
RULES = (_in_place_dtype, _mixed_dtypes, _matmul_shapes, _broadcast, _view_size, _item_of_many)


def explain(fn_name: str, args: list[Any], names: Sequence[str], error: Exception) -> ExprError:
    """torch's error as a plain sentence: the first rule that recognises a common mistake says it with the
    learner's names and the shape rule; anything else is torch's first line."""
    tensors = [(n, a) for n, a in zip(names, args) if isinstance(a, torch.Tensor)]
    text = str(error)
    for rule in RULES:
        if (sentence := rule(fn_name, tensors, text)) is not None:
            return sentence
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return ExprError(N_("{fn} failed: {reason}"), fn=fn_name, reason=first)


def syntax_error(error: SyntaxError, text: str) -> ExprError:
    """Python's complaint as a sentence of ours for the common ones; Python's own words for the rest."""
    column = error.offset or len(text.strip())  # 0 or None: the text ended too early
    bracket = re.match(r"'(.)' was never closed|unmatched '(.)'", error.msg or "")
    if error.msg == "invalid syntax":
        return ExprError(
            N_("That is not a valid expression: Python cannot read it at column {column}."), column=column
        )
    if bracket and bracket[1]:
        return ExprError(
            N_("That is not a valid expression: the {bracket} at column {column} is never closed."),
            bracket=bracket[1],
            column=column,
        )
    if bracket:
        return ExprError(
            N_("That is not a valid expression: the {bracket} at column {column} closes nothing."),
            bracket=bracket[2],
            column=column,
        )
    return ExprError(
        N_("That is not a valid expression ({reason}, at column {column})."), reason=error.msg, column=column
    )
