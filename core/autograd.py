"""Autograd made visible: leaves, the grad_fn graph of an expression (as Graphviz DOT, every node with its
value, gradients after backward), central finite differences to check backward, what `torch.no_grad()`
and `.detach()` give, and gradient descent on 2-D functions.

Messages the app shows are `AutogradError`s with `N_`-marked templates (core.messages); graph labels are
English templates too, translated by the caller through `Graph.dot(translate)`."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .expr import Evaluator, ExprError, evaluate
from .messages import N_, MessageError
from .tensors import parse_literal, valid_name

# longest sub-expression text a graph node shows before it is cut with "…"
MAX_TEXT = 28


class AutogradError(ExprError, MessageError):
    """A refused or failed step of the autograd demo; a translatable template and its values."""


def make_leaf(name: str, text: str, requires_grad: bool = True) -> torch.Tensor:
    """A leaf from a number or list literal, float64 so finite differences are accurate."""
    valid_name(name)
    return torch.tensor(parse_literal(text), dtype=torch.float64, requires_grad=requires_grad)


def format_value(t: torch.Tensor) -> str:
    """A tensor's values in a few characters: a number, a short list, or its first four elements."""
    values = t.detach().flatten()
    if t.dim() == 0:
        return f"{values.item():.4g}"
    shown = ", ".join(f"{v:.3g}" for v in values[: 6 if values.numel() <= 6 else 4].tolist())
    return f"[{shown}{', …' if values.numel() > 6 else ''}]"


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass
class Step:
    """One grad_fn node of an evaluated expression: the sub-expression that made it, and its value."""

    fn: object  # the grad_fn, kept alive so that its id stays its own
    text: str
    value: torch.Tensor
    constants: list[str] = field(default_factory=list)  # leaves without requires_grad it used


@dataclass
class Traced:
    """An expression's result with every intermediate result, keyed by id(grad_fn)."""

    out: torch.Tensor
    steps: dict[int, Step]


class _Recorder(Evaluator):
    """core.expr's evaluator that also keeps what each sub-expression gave, so the graph's intermediate
    nodes can show their own text and value, and leaves with requires_grad off can be tied to the
    operation that used them (autograd itself never sees them)."""

    def __init__(self, names: dict[str, torch.Tensor]):
        super().__init__(names)
        self.steps: dict[int, Step] = {}
        self._leaf_ids = {id(t) for t in names.values()}
        # per node being evaluated: the names of no-grad leaves found below it, not yet tied to an operation
        self._loose: list[list[str]] = []

    def _eval(self, node: ast.AST):
        self._loose.append([])
        try:
            result = super()._eval(node)
        finally:
            loose = self._loose.pop()
        if isinstance(result, torch.Tensor):
            if isinstance(node, ast.Name) and id(result) in self._leaf_ids and not result.requires_grad:
                loose.append(node.id)
            fn = result.grad_fn
            if fn is not None:
                # an outer node giving the same tensor (x.double() of a double) keeps the inner's constants
                earlier = self.steps.get(id(fn))
                step = Step(fn, _short(ast.unparse(node)), result.detach().clone())
                step.constants = (earlier.constants if earlier else []) + loose
                self.steps[id(fn)] = step
                loose = []
        if self._loose:
            self._loose[-1].extend(loose)
        return result


def forward(text: str, leaves: dict[str, torch.Tensor]) -> Traced:
    """Evaluate `text` with the leaves, keeping every sub-expression's result for the graph."""
    recorder = _Recorder(leaves)
    out = recorder.evaluate(text)
    if not isinstance(out, torch.Tensor):
        raise AutogradError(N_("The expression must give a tensor: use your leaves in it."))
    if out.grad_fn is None:
        raise AutogradError(
            N_(
                "Nothing in this expression requires grad, so there is no graph: tick requires_grad on a "
                "leaf it uses."
            )
        )
    return Traced(out, recorder.steps)


@dataclass
class Node:
    kind: str  # leaf, constant (a leaf with requires_grad off), op or output
    lines: list[tuple[str, dict]]  # label lines: English template (translated by dot()) and its values


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)  # forward: leaf → … → output

    STYLE = {
        "leaf": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
        "constant": 'shape=box, style="rounded,filled,dashed", fillcolor="#f3f4f6", fontcolor="#6b7280", '
        'color="#9ca3af"',
        "op": 'shape=box, style="filled", fillcolor="#f3f4f6"',
        "output": 'shape=box, style="rounded,filled", fillcolor="#fde2d8"',
    }

    def labels(self, translate: Callable[[str], str] = str) -> dict[str, list[str]]:
        """Each node's label lines, the templates translated by `translate` and then filled in."""
        return {
            i: [translate(template).format(**values) for template, values in node.lines]
            for i, node in self.nodes.items()
        }

    def dot(self, translate: Callable[[str], str] = str) -> str:
        """Graphviz DOT, top to bottom (leaves first, as the expression is read), 14 pt labels."""

        def quoted(lines: list[str]) -> str:
            return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)

        lines = [
            "digraph autograd {",
            '  rankdir="TB"; nodesep=0.2; node [fontname="Helvetica", fontsize=14, margin="0.08,0.04"];',
            '  edge [color="#6b7280"];',
        ]
        lines += [
            f'  "{i}" [label="{quoted(label)}", {self.STYLE[self.nodes[i].kind]}];'
            for i, label in self.labels(translate).items()
        ]
        lines += [
            f'  "{a}" -> "{b}"' + (' [style="dashed"]' if self.nodes[a].kind == "constant" else "") + ";"
            for a, b in self.edges
        ]
        return "\n".join(lines + ["}"])


def _shape(t: torch.Tensor) -> tuple[str, dict]:
    return N_("shape {shape}"), {"shape": tuple(t.shape)}


def build_graph(traced: Traced, leaves: dict[str, torch.Tensor], output_label: str = "out") -> Graph:
    """Walk out.grad_fn back to the leaves. Leaves show value, shape and (after backward) .grad; each
    grad_fn node its class (MulBackward0, PowBackward0, …) with the sub-expression that made it and its
    value; a leaf with requires_grad off is drawn greyed, with a dashed edge into the operation using it."""
    g = Graph()
    by_id = {id(t): n for n, t in leaves.items()}
    out = traced.out
    g.nodes["output"] = Node(
        "output", [("{name} = {value}", {"name": output_label, "value": format_value(out)}), _shape(out)]
    )
    seen: set[int] = set()
    stack = [(out.grad_fn, "output")]
    while stack:
        fn, child = stack.pop()
        node_id = f"fn{id(fn)}"
        g.edges.append((node_id, child))
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if hasattr(fn, "variable"):  # AccumulateGrad: the leaf it writes .grad into
            leaf = fn.variable
            lines = [("{name} = {value}", {"name": by_id.get(id(leaf), "leaf"), "value": format_value(leaf)})]
            lines.append(_shape(leaf))
            if leaf.grad is not None:
                lines.append((".grad {grad}", {"grad": format_value(leaf.grad)}))
            g.nodes[node_id] = Node("leaf", lines)
        else:
            lines = [("{op}", {"op": type(fn).__name__})]
            step = traced.steps.get(id(fn))
            if step is not None:
                # sub-expression and value on lines of their own: narrow boxes keep a wide graph legible
                lines += [("{text}", {"text": step.text}), ("= {value}", {"value": format_value(step.value)})]
                lines.append(_shape(step.value))
                for name in dict.fromkeys(step.constants):
                    const_id = f"const_{name}"
                    g.nodes[const_id] = Node(
                        "constant",
                        [
                            ("{name} = {value}", {"name": name, "value": format_value(leaves[name])}),
                            _shape(leaves[name]),
                            (N_("requires_grad=False: no .grad"), {}),
                        ],
                    )
                    g.edges.append((const_id, node_id))
            g.nodes[node_id] = Node("op", lines)
        stack.extend((nxt, node_id) for nxt, _i in fn.next_functions if nxt is not None)
    g.edges = list(dict.fromkeys(g.edges))
    return g


def gradient_needed(out: torch.Tensor) -> AutogradError | None:
    """Why `out.backward()` needs a `gradient` argument, when it does (out has more than one element)."""
    if out.numel() == 1:
        return None
    return AutogradError(
        N_(
            "`out` has {n} elements, so `backward()` needs a `gradient` argument of its shape {shape}: the "
            "gradient of a vector is a matrix, and torch computes the vector-Jacobian product vᵀ·J for a v "
            "you choose. The tutorial's autograd chapter passes it as `Q.backward(gradient=external_grad)`."
        ),
        n=out.numel(),
        shape=tuple(out.shape),
    )


def backward(out: torch.Tensor, gradient: torch.Tensor | None = None) -> None:
    """out.backward(); a non-scalar output needs `gradient` (its shape), as the tutorial explains."""
    if gradient is None and (needed := gradient_needed(out)) is not None:
        raise needed
    try:
        out.backward(gradient)
    except RuntimeError as e:
        raise AutogradError(N_("backward() failed: {reason}"), reason=str(e).splitlines()[0]) from None


def finite_difference(
    text: str,
    leaves: dict[str, torch.Tensor],
    name: str,
    gradient: torch.Tensor | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Central differences of sum(out * gradient) with respect to each element of leaf `name`."""
    base = {k: v.detach().clone() for k, v in leaves.items()}
    weight = 1.0 if gradient is None else gradient.double()
    estimate = torch.zeros_like(base[name])
    flat = estimate.view(-1)
    for i in range(base[name].numel()):
        values = []
        for sign in (1, -1):
            shifted = dict(base)
            shifted[name] = base[name].clone()
            shifted[name].view(-1)[i] += sign * eps
            values.append(float((evaluate(text, shifted).double() * weight).sum()))
        flat[i] = (values[0] - values[1]) / (2 * eps)
    return estimate


def _element(name: str, shape: torch.Size, flat_index: int) -> str:
    if not shape:
        return name
    index, rest = [], flat_index
    for size in reversed(shape):
        index.append(rest % size)
        rest //= size
    return f"{name}[{', '.join(map(str, reversed(index)))}]"


def gradient_check(
    text: str,
    leaves: dict[str, torch.Tensor],
    gradient: torch.Tensor | None = None,
    times: int = 1,
) -> list[dict]:
    """One row per element of every leaf that has a .grad: the .grad autograd filled in after `times`
    backward calls, the central finite-difference estimate (times `times`: the calls add up), and how far
    apart they are."""
    rows = []
    for name, leaf in leaves.items():
        if leaf.grad is None:
            continue
        estimate = finite_difference(text, leaves, name, gradient) * times
        for i, (grad, fd) in enumerate(zip(leaf.grad.flatten().tolist(), estimate.flatten().tolist())):
            rows.append(
                {
                    "leaf": name,
                    "element": _element(name, leaf.shape, i),
                    ".grad": grad,
                    "finite difference": fd,
                    "difference": abs(grad - fd),
                }
            )
    return rows


def grad_modes(text: str, leaves: dict[str, torch.Tensor]) -> list[dict]:
    """The expression three ways, a line of code each: recorded for autograd (`y`), under
    `torch.no_grad()` (`z`), and `y.detach()` (`d`); each result's requires_grad, grad_fn and is_leaf
    (the values are the same all three times)."""
    recorded = evaluate(text, leaves)
    with torch.no_grad():
        quiet = evaluate(text, leaves)
    rows = []
    for code, t in (
        (f"y = {text}", recorded),
        (f"with torch.no_grad(): z = {text}", quiet),
        ("d = y.detach()", recorded.detach()),
    ):
        rows.append(
            {
                "code": code,
                "requires_grad": t.requires_grad,
                "grad_fn": type(t.grad_fn).__name__ if t.grad_fn is not None else "None",
                "is_leaf": t.is_leaf,
                "value": format_value(t),
            }
        )
    return rows


FUNCTIONS_2D = {
    N_("quadratic bowl"): "x ** 2 + 10 * y ** 2",
    "Rosenbrock": "(1 - x) ** 2 + 100 * (y - x ** 2) ** 2",
    "Himmelblau": "(x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2",
}
OPTIMIZERS_2D = {
    "SGD": lambda p, lr: torch.optim.SGD(p, lr=lr),
    N_("SGD + momentum"): lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "Adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
}
DIVERGED = 1e8


def descend(text: str, start: tuple[float, float], optimizer: str, lr: float, steps: int) -> dict:
    """Run one torch.optim optimizer on f(x, y); the path, the loss per step, and whether it diverged."""
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = OPTIMIZERS_2D[optimizer]([xy], lr)
    path, losses = [list(start)], []
    for _step in range(steps):
        opt.zero_grad()
        f = evaluate(text, {"x": xy[0], "y": xy[1]})
        if not isinstance(f, torch.Tensor) or f.numel() != 1:
            raise AutogradError(N_("f(x, y) must give one number."))
        losses.append(float(f.detach()))
        if not math.isfinite(losses[-1]) or abs(losses[-1]) > DIVERGED:
            return {"path": path, "loss": losses, "diverged": True}
        f.backward()
        opt.step()
        path.append(xy.detach().tolist())
    return {"path": path, "loss": losses, "diverged": False}


def surface(text: str, x_range: tuple[float, float], y_range: tuple[float, float], n: int = 80) -> dict:
    """f on an n×n grid, for a contour plot."""
    xs = torch.linspace(*x_range, n, dtype=torch.float64)
    ys = torch.linspace(*y_range, n, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    z = evaluate(text, {"x": gx, "y": gy})
    return {"x": xs.tolist(), "y": ys.tolist(), "z": z.tolist()}
