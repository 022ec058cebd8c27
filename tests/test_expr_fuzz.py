"""Property-based tests of the expression evaluator: whatever is typed, the box answers with a result or
its own error (ExprError), never another exception, and within its time cap."""

import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.expr import KEYWORDS, TENSOR_METHODS, TORCH_FUNCTIONS, ExprError, evaluate, printed

# hundreds of generated examples each: `make test` runs them, `make test-fast` does not
pytestmark = pytest.mark.slow

NAMES = ["a", "b", "v", "i", "m", "n", "nope"]
ATOMS = st.one_of(
    st.sampled_from(NAMES),
    st.integers(-(10**13), 10**13).map(str),
    st.sampled_from(
        ["0", "1", "2", "-1", "3", "1e9", "0.5", "True", "None", "...", "'cpu'", "'cuda'", "'meta'"]
    ),
    st.sampled_from(["torch.float", "torch.long", "torch.bool", "torch.half", "torch.bfloat16"]),
)
FUNCTIONS = st.sampled_from(sorted(TORCH_FUNCTIONS) + ["load", "save", "os", "_C", "nn"])
METHODS = st.sampled_from(
    sorted(TENSOR_METHODS) + ["__class__", "storage", "apply_", "T", "shape", "grad_fn"]
)
OPS = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "@", "<", "==", "&", ">>"])


def expressions() -> st.SearchStrategy[str]:
    """Random expressions from the box's own vocabulary (and a few forbidden words), nested."""

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        args = st.lists(inner, max_size=3).map(", ".join)
        kwargs = st.lists(
            st.tuples(st.sampled_from(sorted(KEYWORDS) + ["bad"]), inner).map("=".join), max_size=2
        ).map(", ".join)
        call_args = st.tuples(args, kwargs).map(lambda p: ", ".join(x for x in p if x))
        return st.one_of(
            st.tuples(inner, OPS, inner).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
            st.tuples(FUNCTIONS, call_args).map(lambda p: f"torch.{p[0]}({p[1]})"),
            st.tuples(inner, METHODS, call_args).map(lambda p: f"{p[0]}.{p[1]}({p[2]})"),
            st.tuples(inner, METHODS).map(lambda p: f"{p[0]}.{p[1]}"),
            st.tuples(
                inner, st.lists(st.one_of(inner, st.just(":"), st.just("1:"), st.just("::-1")), max_size=3)
            ).map(lambda p: f"{p[0]}[{', '.join(p[1])}]"),
            st.lists(inner, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
            inner.map(lambda x: f"-{x}"),
        )

    return st.recursive(ATOMS, extend, max_leaves=12)


def session() -> dict:
    return {
        "a": torch.arange(6.0).reshape(2, 3),
        "b": torch.ones(3, 2),
        "v": torch.tensor([1.0, -2.0, 3.0]),
        "i": torch.tensor([[1, 2], [3, 4]]),
        "m": torch.tensor([True, False, True]),
        "n": np.ones(3),
    }


def answers(text: str) -> None:
    """The evaluator's contract: a result that prints, or an ExprError with a message; quickly."""
    started = time.monotonic()
    try:
        printed(evaluate(text, session()))
    except ExprError as e:
        assert str(e).strip()
    assert time.monotonic() - started < 5


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_generated_expressions_give_a_result_or_an_expr_error(text):
    answers(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text_gives_a_result_or_an_expr_error(text):
    answers(text)
