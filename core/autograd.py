"""Autograd made visible: leaves, the grad_fn graph of an expression (as Graphviz DOT, with values and
gradients), central finite differences to check backward, and gradient descent on 2-D functions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .expr import ExprError, evaluate
from .tensors import parse_literal, valid_name


def make_leaf(name: str, text: str, requires_grad: bool = True) -> torch.Tensor:
    """A leaf from a number or list literal, float64 so finite differences are accurate."""
    valid_name(name)
    return torch.tensor(parse_literal(text), dtype=torch.float64, requires_grad=requires_grad)


def _fmt(t: torch.Tensor) -> str:
    t = t.detach()
    if t.numel() == 1:
        return f"{t.item():.4g}"
    if t.numel() <= 6:
        return "[" + ", ".join(f"{v:.3g}" for v in t.flatten().tolist()) + "]"
    return f"{'×'.join(map(str, t.shape))} tensor"


@dataclass
class Graph:
    nodes: dict[str, str] = field(default_factory=dict)  # node id → label
    kinds: dict[str, str] = field(default_factory=dict)  # node id → leaf / op / output
    edges: list[tuple[str, str]] = field(default_factory=list)

    def dot(self) -> str:
        style = {
            "leaf": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
            "op": 'shape=ellipse, style=filled, fillcolor="#f3f4f6"',
            "output": 'shape=box, style="rounded,filled", fillcolor="#fde2d8"',
        }
        lines = ["digraph autograd {", '  rankdir="LR"; node [fontname="Helvetica", fontsize=11];']
        lines += [f'  "{i}" [label="{label}", {style[self.kinds[i]]}];' for i, label in self.nodes.items()]
        lines += [f'  "{a}" -> "{b}";' for a, b in self.edges]
        return "\n".join(lines + ["}"])


def build_graph(output: torch.Tensor, leaves: dict[str, torch.Tensor], output_label: str = "out") -> Graph:
    """Walk output.grad_fn back to the leaves. Leaves show value, shape and (after backward) .grad;
    grad_fn nodes show their class (MulBackward0, PowBackward0, …); edges point forward, leaf → output."""
    g = Graph()
    by_id = {id(t): n for n, t in leaves.items()}
    out_id = "output"
    g.nodes[out_id] = f"{output_label} = {_fmt(output)}\\nshape {tuple(output.shape)}"
    g.kinds[out_id] = "output"
    if output.grad_fn is None:
        return g
    seen: set[int] = set()
    stack = [(output.grad_fn, out_id)]
    while stack:
        fn, child = stack.pop()
        node_id = f"fn{id(fn)}"
        if hasattr(fn, "variable"):  # AccumulateGrad: the leaf it writes .grad into
            leaf = fn.variable
            name = by_id.get(id(leaf), "leaf")
            grad = f"\\ngrad {_fmt(leaf.grad)}" if leaf.grad is not None else ""
            g.nodes[node_id] = f"{name} = {_fmt(leaf)}\\nshape {tuple(leaf.shape)}{grad}"
            g.kinds[node_id] = "leaf"
        else:
            g.nodes[node_id] = type(fn).__name__
            g.kinds[node_id] = "op"
        g.edges.append((node_id, child))
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.extend((nxt, node_id) for nxt, _ in fn.next_functions if nxt is not None)
    g.edges = list(dict.fromkeys(g.edges))
    return g


def forward(text: str, leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    out = evaluate(text, leaves)
    if not isinstance(out, torch.Tensor):
        raise ExprError("The expression must give a tensor (use your leaves in it).")
    if out.grad_fn is None:
        raise ExprError(
            "Nothing in this expression requires grad, so there is no graph: tick requires_grad "
            "on a leaf it uses."
        )
    return out


def backward(out: torch.Tensor, gradient: torch.Tensor | None = None) -> None:
    """out.backward(); a non-scalar output needs `gradient` (its shape), as the tutorial explains."""
    if out.numel() != 1 and gradient is None:
        raise ExprError(
            f"The output has {out.numel()} elements: backward() needs a gradient argument of shape "
            f"{tuple(out.shape)} (the tutorial uses out.backward(torch.randn(1, 10))), because the "
            "gradient of a vector is a matrix; torch computes the vector-Jacobian product."
        )
    try:
        out.backward(gradient)
    except RuntimeError as e:
        raise ExprError(f"backward failed: {str(e).splitlines()[0]}") from None


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


FUNCTIONS_2D = {
    "quadratic bowl": "x ** 2 + 10 * y ** 2",
    "Rosenbrock": "(1 - x) ** 2 + 100 * (y - x ** 2) ** 2",
    "Himmelblau": "(x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2",
}
OPTIMIZERS_2D = {
    "SGD": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "SGD + momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "Adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
}
DIVERGED = 1e8


def descend(text: str, start: tuple[float, float], optimizer: str, lr: float, steps: int) -> dict:
    """Run one torch.optim optimizer on f(x, y); the path, the loss per step, and whether it diverged."""
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = OPTIMIZERS_2D[optimizer]([xy], lr)
    path, losses = [list(start)], []
    for _ in range(steps):
        opt.zero_grad()
        f = evaluate(text, {"x": xy[0], "y": xy[1]})
        if not isinstance(f, torch.Tensor) or f.numel() != 1:
            raise ExprError("f(x, y) must give one number.")
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
