"""The safe tensor-expression evaluator: what it computes, what it refuses, and how it says so."""

import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import core.expr
from core.expr import MAX_ELEMENTS, ExprError, Refused, evaluate, names_in, printed
from tests.appserver import ROOT
from tests.memory import peak_mib


@pytest.fixture
def names():
    return {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2, 3), "x": torch.tensor([1.0, 2.0, 3.0])}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("torch.matmul(a, b.T) * 2", lambda n: torch.matmul(n["a"], n["b"].T) * 2),
        ("a[:, 1:].sum(dim=0)", lambda n: n["a"][:, 1:].sum(dim=0)),
        ("a @ b.T", lambda n: n["a"] @ n["b"].T),
        ("a * x", lambda n: n["a"] * n["x"]),  # broadcasting
        ("torch.cat([a, b], dim=0)", lambda n: torch.cat([n["a"], n["b"]], dim=0)),
        ("torch.stack((a, b)).shape", lambda n: torch.Size([2, 2, 3])),
        ("a.reshape(3, 2).t()", lambda n: n["a"].reshape(3, 2).t()),
        ("a.permute(1, 0)[..., None].shape", lambda n: torch.Size([3, 2, 1])),
        ("(a > 2).sum()", lambda n: (n["a"] > 2).sum()),
        (
            "torch.tensor([[1, 2], [3, 4]], dtype=torch.float32) @ torch.eye(2)",
            lambda n: torch.tensor([[1.0, 2], [3, 4]]),
        ),
        ("a.mean(dim=1, keepdim=True)", lambda n: n["a"].mean(dim=1, keepdim=True)),
        ("-x ** 2 + 1", lambda n: -(n["x"] ** 2) + 1),
        ("torch.zeros(2, 2, dtype=torch.int64).dtype", lambda n: torch.int64),
        ("x.to('cpu')", lambda n: n["x"]),
    ],
)
def test_allowed_expressions_compute_what_torch_computes(names, text, expected):
    result, want = evaluate(text, names), expected(names)
    if isinstance(want, torch.Tensor):
        assert torch.equal(result, want)
    else:
        assert result == want


def test_in_place_methods_change_the_session_tensor(names):
    before = names["x"].data_ptr()
    evaluate("x.add_(1)", names)
    assert names["x"].tolist() == [2.0, 3.0, 4.0] and names["x"].data_ptr() == before


def test_division_by_zero_gives_inf_not_a_crash(names):
    assert evaluate("1 / 0", names) == float("inf")
    assert torch.isinf(evaluate("x / 0", names)).all()


@pytest.mark.parametrize(
    "text, message",
    [
        ("a @ b", "matmul needs a's columns (3) to equal b's rows (2)"),
        (
            "torch.matmul(a, x.reshape(1, 3))",
            "matmul needs a's columns (3) to equal x.reshape(1, 3)'s rows (1)",
        ),
        ("a + torch.ones(4)", "cannot be broadcast together"),
        ("c * 2", "There is no tensor named 'c'. Tensors: a, b, x."),
        ("a +", "not a valid expression"),
        ("a[5]", "Indexing a (2×3) failed"),
        ("torch.tensor([1, 2]) @ torch.ones(2)", "same dtype"),
        ("x.to('cuda:7')", "Available: cpu"),
    ],
)
def test_errors_are_plain_sentences(names, text, message):
    with pytest.raises(ExprError, match=None) as e:
        evaluate(text, names)
    assert message in str(e.value)
    assert "Traceback" not in str(e.value)


HOSTILE = [
    # attribute escapes
    "a.__class__",
    "a.__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "torch.__builtins__",
    "torch.os",
    "torch.load",
    "torch.save",
    "torch.hub",
    "torch.ops",
    "torch.nn",
    "torch.utils",
    "torch._C",
    "a.storage()",
    "a.untyped_storage()",
    "a.new_tensor",
    "a.apply_",
    "a.map_",
    "a.register_hook",
    "a.grad_fn.next_functions",
    "torch.Tensor",
    "a.numpy().tofile",
    "('torch', 'save')(a, 'stolen.pt')",  # a tuple of strings must not pass for a function
    "('method', a, '__class__')()",
    "torch.ones(2).to(1)",  # a CUDA index on a machine without that GPU
    "a.sum",
    "torch",
    "a.numpy().__class__",
    "torch.from_numpy.__self__",
    "a.sum.__self__",
    "torch.zeros.__module__",
    # builtins, imports, names
    "__import__('os').system('id')",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('1')",
    "globals()",
    "locals()",
    "getattr(a, 'sum')",
    "type(a)",
    "print(a)",
    "os",
    "sys",
    "builtins",
    "__builtins__",
    # syntax that is not an expression or not allowed
    "import os",
    "lambda: 1",
    "(lambda: 1)()",
    "[i for i in range(3)]",
    "{i for i in a}",
    "(i for i in a)",
    "{'k': 1}",
    "{1, 2}",
    "f'{a}'",
    "f'{a.__class__}'",
    "'{0.__class__}'.format(a)",
    "'%s' % a",
    "x if a else b",
    "(y := 1)",
    "a and b",
    "not a",
    "*a",
    "torch.cat(*[a, b])",
    "torch.sum(a, **{'dim': 0})",
    "a.sum(dim=0, out=b)",
    "b'bytes'",
    "'x' * 10**9",
    "'" + "x" * 30 + "'",
    # sizes and numbers
    "torch.zeros(10000, 10000)",
    "torch.ones(100000000)",
    "torch.rand(5000, 5000)",
    "torch.arange(0, 1e9)",
    "torch.eye(5000)",
    "torch.full((4000, 4000), 1.0)",
    "a.repeat(10000, 10000)",
    "a.expand(100000, 100000, 3)",
    "torch.linspace(0, 1, 100000000)",
    "torch.outer(torch.ones(5000), torch.ones(5000))",
    "2 ** 10 ** 10",
    "10 ** 100",
    "9" * 40,
    "torch.tensor(" + "[" * 20 + "1" + "]" * 20 + ")",
    # nesting
    "(" * 300 + "1" + ")" * 300,
    "-" * 400 + "1",
    "+".join(["a"] * 400),
    "[" * 150 + "]" * 150,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_expressions_are_refused_with_a_message(names, text):
    started = time.monotonic()
    with pytest.raises(ExprError) as e:
        evaluate(text, names)
    assert str(e.value) and time.monotonic() - started < 2  # refused, promptly
    assert torch.equal(names["a"], torch.arange(6.0).reshape(2, 3))  # and nothing was changed


def test_the_cap_is_checked_before_allocating(names):
    # 10**5 × 10**5 float32 would be 40 GB: refused from shapes alone, without touching memory
    with pytest.raises(ExprError, match=f"limit here is {MAX_ELEMENTS:,}"):
        evaluate("torch.zeros(100000, 100000)", names)


def tutorial_names() -> dict:
    """The blitz's own tensors, made without randomness so a direct run can be compared."""
    return {
        "x": torch.arange(15.0).reshape(5, 3) / 7,
        "y": torch.ones(5, 3),
        "result": torch.zeros(5, 3),
        "g": torch.arange(16.0).reshape(4, 4),
        "s": torch.tensor([0.5]),
        "o": torch.ones(5),
        "a": np.ones(5),
        "i": torch.tensor([[1, 2], [3, 4]]),
    }


# every tensor call of the tutorial's Tensors chapter (the English blitz, which the Chinese one follows)
TUTORIAL = [
    "torch.zeros(5, 3, dtype=torch.long)",
    "torch.tensor([5.5, 3])",
    "x.new_ones(5, 3, dtype=torch.double)",
    "torch.randn_like(x, dtype=torch.float)",
    "torch.rand(5, 3)",
    "x.size()",
    "x + y",
    "torch.add(x, y)",
    "torch.add(x, y, out=result)",
    "y.add_(x)",
    "i.add_(1)",
    "x[:, 1]",
    "g.view(16)",
    "g.view(-1, 8)",
    "g.view(-1, 8).size()",
    "g.reshape(2, 8)",
    "s.item()",
    "o.numpy()",
    "torch.from_numpy(a)",
    "torch.cuda.is_available()",
    "torch.device('cpu')",
    "torch.ones_like(x, device='cpu')",
    "x.to('cpu', torch.double)",
    "x.to(torch.device('cpu'), torch.double)",
    "x[x > 1]",
    "x.shape[0]",
]


@pytest.mark.parametrize("text", TUTORIAL)
def test_tutorial_calls_print_what_python_prints(text):
    box, direct = tutorial_names(), tutorial_names()
    torch.manual_seed(0)
    shown = printed(evaluate(text, box))
    torch.manual_seed(0)
    want = eval(text, {"torch": torch}, direct)  # the same call run directly (trusted test text)
    assert shown.text == repr(want)
    if isinstance(want, (torch.Tensor, np.ndarray)):
        assert shown.shape == str(tuple(want.shape)) and shown.dtype == str(want.dtype)
    # in-place calls and out= change the named tensor exactly as the direct run does
    for name, value in direct.items():
        assert repr(box[name]) == repr(value), name


def test_empty_has_the_shape_and_dtype_asked_for():
    shown = printed(evaluate("torch.empty(5, 3)", {}))
    assert shown.text.startswith("tensor([[") and (shown.shape, shown.dtype) == ("(5, 3)", "torch.float32")


def test_in_place_and_out_write_into_the_named_tensor():
    names = tutorial_names()
    result, y = names["result"], names["y"]
    assert evaluate("torch.add(x, y, out=result)", names) is result
    assert torch.equal(result, names["x"] + 1) and names["result"] is result
    evaluate("y.add_(x)", names)
    assert names["y"] is y and torch.equal(y, names["x"] + 1)


def sentences(text: str) -> int:
    """Full stops, ! and ? that end a sentence (followed by a space or the end)."""
    return len(re.findall(r"[.!?](?=\s|$)", text.strip()))


@pytest.mark.parametrize("text", HOSTILE)
def test_a_refusal_is_one_sentence(names, text):
    try:
        evaluate(text, names)
    except Refused as e:
        assert sentences(str(e)) == 1 and ", ".join(sorted(core.expr.TORCH_FUNCTIONS)) not in str(e)
    except ExprError as e:  # not a refusal but a failure (a typo'd name, a syntax error): still short
        assert sentences(str(e)) <= 2
    else:
        pytest.fail("not refused")


@pytest.mark.parametrize(
    "text",
    [
        "a.__class__",
        "torch.load",
        "torch.zeros(100000, 100000)",
        "a.sum(dim=0, out=b)",
        "open('/etc/passwd')",
    ],
)
def test_what_is_not_allowed_is_a_refusal(names, text):
    with pytest.raises(Refused):
        evaluate(text, names)


def test_a_tuple_of_strings_cannot_call_torch(names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Refused, match="only torch functions and tensor methods can be called"):
        evaluate("('torch', 'save')(a, 'stolen.pt')", names)
    assert not (tmp_path / "stolen.pt").exists()


@pytest.mark.parametrize(
    "text",
    [
        "torch.ones(1, 1000)[torch.zeros(900000, dtype=torch.long)].sum()",  # advanced indexing
        "torch.ones(1000)[torch.ones(1000) > 0][None].expand(100000, 1000)",  # a mask, then a view
        "torch.ones(10000, 1) * torch.ones(1, 10000)",  # broadcasting
        "torch.ones(10000, 1) > torch.ones(1, 10000)",
        "torch.ones(1000, 1000).repeat(100, 1)",
        "torch.cat([torch.ones(4000000), torch.ones(4000000), torch.ones(4000000)])",
        "torch.stack([torch.ones(4000000), torch.ones(4000000), torch.ones(4000000)])",
        "torch.ones(4000, 1) @ torch.ones(1, 4000)",  # matmul's result
        "torch.full((4000, 4000), 1.0)",
        "torch.ones(3, 3).new_ones(5000, 5000)",
        "torch.empty(100000, 1000)",
    ],
)
def test_every_operation_is_sized_before_allocating(names, text):
    with pytest.raises(Refused, match="refused before allocating"):
        evaluate(text, names)


def test_total_memory_and_work_of_one_evaluation_are_capped(names):
    big = "torch.ones(9000000, dtype=torch.double)"  # 72 MB each, under the per-result cap
    with pytest.raises(Refused, match="limit here is 400 MB"):
        evaluate(" + ".join([big] * 4), names)
    with pytest.raises(Refused, match="element operations"):  # 3000³ multiply-adds
        evaluate("torch.ones(3000, 3000) @ torch.ones(3000, 3000)", names)


def test_time_is_capped_between_operations(names, monkeypatch):
    monkeypatch.setattr(core.expr, "MAX_SECONDS", 0.0)
    with pytest.raises(Refused, match="ran longer than 0 s"):
        evaluate("a + 1", names)


@pytest.mark.slow
def test_the_big_index_never_reaches_memory():
    setup = """
from core.expr import Refused, evaluate
evaluate("torch.ones(1, 1000)[torch.zeros(9, dtype=torch.long)].sum()", {})  # warm up the code path
"""
    run = """
try:
    evaluate("torch.ones(1, 1000)[torch.zeros(900000, dtype=torch.long)].sum()", {})
except Refused:
    pass
else:
    raise SystemExit("not refused")
"""
    assert peak_mib(setup, run) < 50  # MiB: the 7 MB index, never the 3.6 GB result


def test_numpy_arrays_go_only_into_from_numpy(names):
    names = {**names, "n": np.ones(3)}
    assert evaluate("torch.from_numpy(n)", names).dtype == torch.float64
    with pytest.raises(Refused, match="torch.from_numpy"):
        evaluate("torch.add(n, 1)", names)


@pytest.mark.slow
def test_the_first_evaluation_in_a_fresh_process_is_not_refused_as_slow():
    """torch loads its meta kernels on first use (about a second): not charged to the learner's expression."""
    expression = "(torch.ones(2, 3) @ torch.ones(3, 2)).sum()"
    code = f"from core.expr import evaluate; print(evaluate({expression!r}, {{}}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "tensor(12.)" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "g.view(-1, 3)",
            "g has 16 elements, which cannot be arranged as (-1, 3): 16 is not a multiple of 3.",
        ),
        ("g.reshape(3, 5)", "g has 16 elements, which cannot be arranged as (3, 5): that shape holds 15."),
        ("g.item()", "item() needs a tensor of one element, and g has 16."),
        ("g g", "That is not a valid expression: Python cannot read it at column 3."),
        ("g.view(-1, 8", "That is not a valid expression: the ( at column 7 is never closed."),
        ("g)", "That is not a valid expression: the ) at column 2 closes nothing."),
        ("g.view(-1, 0)", "view failed: shape '[-1, 0]' is invalid for input of size 16"),  # torch's words
    ],
)
def test_the_tutorials_common_mistakes_get_a_sentence_of_their_own(text, message):
    names = {"g": torch.arange(16.0)}
    with pytest.raises(ExprError) as e:
        evaluate(text, names)
    assert str(e.value) == message


def test_an_unknown_name_lists_only_tensors(names):
    with pytest.raises(ExprError) as e:
        evaluate("c * 2", {**names, "a_np": np.ones(3)})
    assert str(e.value) == "There is no tensor named 'c'. Tensors: a, b, x."


def test_names_in_lists_what_an_expression_reads():
    assert names_in("torch.cat([a, b_np]) @ a.T") == {"torch", "a", "b_np"} and names_in("a +") == set()


@pytest.mark.parametrize(
    "symbol, arity", [(s, 2) for s in ("+", "-", "*", "/", "//", "%", "**")] + [("-", 1), ("+", 1)]
)
def test_arithmetic_on_0d_tensors_is_charged_as_its_meta_run_would_charge_it(symbol, arity, monkeypatch):
    """Such arithmetic runs without a dry run on the meta device (the descent chart does it thousands of
    times): the same result, the same bytes and work charged, and the same message when torch refuses."""
    import operator

    from core import expr_budget
    from core.expr import BIN_OPS, SYMBOLS

    if arity == 1:
        op = {"-": operator.neg, "+": operator.pos}[symbol]
        cases = [[torch.tensor(1.5, requires_grad=True)], [torch.tensor(7)], [torch.tensor(True)]]
    else:
        op = BIN_OPS[next(k for k, v in SYMBOLS.items() if v == symbol)]
        w = torch.tensor(1.5, requires_grad=True)
        cases = [[w, 2], [3, torch.tensor(4.0)], [torch.tensor(7), torch.tensor(2)]]
        cases += [[torch.tensor(True), 2.5]]
        # refused by torch's real kernel only (an integer divided by zero), by both, by neither
        cases += [[torch.tensor(7), 0], [torch.tensor(2), -1], [torch.tensor(1 + 2j), torch.tensor(0.5)]]

    def run(args, shortcut):
        """(result or torch's refusal explained, bytes, work, dry runs) with the shortcut on or off."""
        monkeypatch.setattr(expr_budget, "SCALAR_ARITHMETIC", {symbol} if shortcut else set())
        budget, dry_runs = expr_budget.Budget(), []
        meta_run = budget.meta_run
        monkeypatch.setattr(budget, "meta_run", lambda *a: dry_runs.append(a) or meta_run(*a))
        try:
            out = budget.run(symbol, op, args, {}, ["p", "q"][:arity])
        except ExprError as e:
            out = str(e)
        return out, [budget.bytes, budget.work], len(dry_runs)

    for args in cases:
        (fast, fast_charged, fast_dry), (dry, dry_charged, _) = run(args, True), run(args, False)
        if isinstance(dry, str):  # refused: the evaluation ends with this message, whatever it was charged
            assert fast == dry, args
        else:
            assert fast_dry == 0 and fast_charged == dry_charged and fast_charged[1] > 0, args
            assert fast.shape == () and fast.dtype == dry.dtype and torch.equal(fast.detach(), dry.detach())
            assert fast.requires_grad == dry.requires_grad, args
    # an operand of one element that is not 0-d is sized on the meta device as before
    assert not expr_budget._scalars([torch.ones(1, 1), 3]) and expr_budget._scalars([torch.tensor(2), 3])
