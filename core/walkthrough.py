"""Chapter 3 (neural networks) as cells of real code, run when the learner asks.

Each cell's code is the code that runs: `run_cells` executes the cells' text in one namespace, in order,
and each cell's output is what its `print` calls wrote. The network is the registry's `Net`, defined
from its own source (`inspect.getsource`), so the class shown is the class the app trains. Every random
draw follows a `torch.manual_seed` written in the code, so running the shown code anywhere prints the same.
"""

from __future__ import annotations

import inspect
import io
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .messages import N_
from .models import Net

NET_SEED = 0


@dataclass(frozen=True)
class Cell:
    key: str  # stable id: the page's anchor and widget keys
    title: str  # English, marked for translation
    code: str


def _code(text: str) -> str:
    return textwrap.dedent(text).strip()


def net_cells(input_seed: int = 1) -> tuple[Cell, ...]:
    """The tutorial's "Neural networks" section on the `Net` the app trains; `input_seed` draws the input
    (and the random gradient and target that follow it)."""
    imports = """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim as optim
    """
    parameters = """
        params = list(net.parameters())
        print(len(params))
        print(params[0].size())  # conv1's .weight
        for name, p in net.named_parameters():
            print(f"{name:12} {str(tuple(p.shape)):16} {p.numel():>7,}")
        print(f"{'total':29} {sum(p.numel() for p in params):>7,}")
    """
    forward = """
        input = torch.randn(1, 3, 32, 32)
        out = net(input)
        print(out)
    """
    backward_random = """
        net.zero_grad()
        out.backward(torch.randn(1, 10))
        print(net.conv1.bias.grad)
    """
    loss = """
        output = net(input)
        target = torch.randn(10)  # a dummy target, for example
        target = target.view(1, -1)  # make it the same shape as output
        criterion = nn.MSELoss()
        loss = criterion(output, target)
        print(loss)
    """
    grad_fn = """
        fn = loss.grad_fn
        step = 0
        while fn is not None:
            inputs = [f for f, _ in fn.next_functions if f is not None]
            print(f"{step:2}  {type(fn).__name__:30} <- {', '.join(type(f).__name__ for f in inputs)}")
            # follow the input that was computed: AccumulateGrad is where a weight or a bias gets its .grad
            computed = [f for f in inputs if type(f).__name__ != "AccumulateGrad"]
            fn = computed[0] if computed else None
            step += 1
    """
    backprop = """
        net.zero_grad()  # zeroes the gradient buffers of all parameters
        print("conv1.bias.grad before backward")
        print(net.conv1.bias.grad)
        loss.backward()
        print("conv1.bias.grad after backward")
        print(net.conv1.bias.grad)
    """
    manual_sgd = """
        learning_rate = 0.01
        print("loss before:", criterion(net(input), target).item())
        for f in net.parameters():
            f.data.sub_(f.grad.data * learning_rate)
        print("loss after: ", criterion(net(input), target).item())
    """
    optim_sgd = """
        optimizer = optim.SGD(net.parameters(), lr=0.01)
        optimizer.zero_grad()  # zero the gradient buffers
        output = net(input)
        loss = criterion(output, target)
        print("loss before:", loss.item())
        loss.backward()
        optimizer.step()  # does the update
        print("loss after: ", criterion(net(input), target).item())
    """
    return (
        Cell("imports", N_("Imports"), _code(imports)),
        Cell("class", N_("The Net class the app trains"), inspect.getsource(Net).strip()),
        Cell(
            "net",
            N_("Make a network and print it"),
            f"torch.manual_seed({NET_SEED})\nnet = Net()\nprint(net)",
        ),
        Cell("parameters", N_("Its learnable parameters"), _code(parameters)),
        Cell(
            "forward",
            N_("Forward pass of a random input"),
            f"torch.manual_seed({input_seed})\n{_code(forward)}",
        ),
        Cell(
            "backward-random",
            N_("Zero the gradients, backpropagate random gradients"),
            _code(backward_random),
        ),
        Cell("loss", N_("A loss function: MSELoss against a random target"), _code(loss)),
        Cell("grad-fn", N_("The loss's grad_fn chain, step by step"), _code(grad_fn)),
        Cell("backprop", N_("Backpropagate the loss: conv1.bias.grad before and after"), _code(backprop)),
        Cell(
            "manual-sgd",
            N_("Update the weights by hand: weight = weight - learning_rate * gradient"),
            _code(manual_sgd),
        ),
        Cell("optim-sgd", N_("The same update with torch.optim"), _code(optim_sgd)),
    )


# The tutorial's recipe for training a network, each step with the cell that does it.
TRAINING_STEPS: tuple[tuple[str, str], ...] = (
    (N_("Define the neural network, with some learnable parameters (weights)"), "class"),
    (N_("Iterate over a dataset of inputs"), "forward"),
    (N_("Process the input through the network"), "forward"),
    (N_("Compute the loss (how far the output is from being correct)"), "loss"),
    (N_("Propagate gradients back into the network's parameters"), "backprop"),
    (N_("Update the weights: weight = weight - learning_rate * gradient"), "manual-sgd"),
)


def run_cells(cells: Sequence[Cell], namespace: dict | None = None) -> list[str]:
    """Execute `cells` in order in one namespace (fresh unless given) and return what each printed.
    The cells are this module's own code, never a learner's text."""
    namespace = {} if namespace is None else namespace
    outputs = []
    for cell in cells:
        printed = io.StringIO()
        # each cell's print writes to its own buffer: no global stdout swap, safe with several sessions
        namespace["print"] = lambda *args, _to=printed, **kwargs: print(*args, **kwargs, file=_to)
        exec(compile(cell.code, f"<{cell.key}>", "exec"), namespace)
        outputs.append(printed.getvalue())
    namespace.pop("print", None)
    return outputs


def resnet18_cells(pretrained: bool) -> tuple[Cell, ...]:
    """The tutorial's resnet18 example; the code names the weights that are really loaded."""
    if pretrained:
        load = "from torchvision.models import ResNet18_Weights, resnet18\n\n"
        model = "model = resnet18(weights=ResNet18_Weights.DEFAULT)  # ImageNet weights (downloaded once)"
    else:
        load = "from torchvision.models import resnet18\n\n"
        model = "model = resnet18(weights=None)  # random weights: nothing to download"
    data = "data = torch.rand(1, 3, 64, 64)\nlabels = torch.rand(1, 1000)"
    step = """
        optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
        optim.step()  # gradient descent
    """
    return (
        Cell(
            "rn-model",
            N_("A resnet18, a random image and random labels"),
            f"import torch\n{load}torch.manual_seed({NET_SEED})\n{model}\n{data}",
        ),
        Cell(
            "rn-forward",
            N_("Forward pass"),
            "prediction = model(data)  # forward pass\nprint(prediction.shape)",
        ),
        Cell(
            "rn-backward",
            N_("Backward pass"),
            "loss = (prediction - labels).sum()\nloss.backward()  # backward pass\nprint(loss)",
        ),
        Cell("rn-step", N_("One step of gradient descent"), _code(step)),
    )


def count_graph_nodes(out: torch.Tensor) -> int:
    """How many autograd nodes produced `out` (its graph is too big to draw for resnet18)."""
    seen, stack = set(), [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return len(seen)


@dataclass
class ResnetResult:
    cells: tuple[Cell, ...]
    outputs: list[str]  # what each cell printed on its first run
    seconds: dict[str, float]  # each pass's cell, timed on a second run, after the first warmed up
    graph_nodes: int
    modules: list[dict]  # per top-level module: its type, parameter count and output shape
    fallback_reason: str | None  # why the pretrained weights were not used, when they were asked for


def resnet18_walkthrough(pretrained: bool = False) -> ResnetResult:
    """Run the resnet18 cells once (their printed output, and the warm-up: the first call pays one-time
    costs such as memory allocation and kernel choice), then time the forward, backward and step cells on
    a second run."""
    fallback_reason = None
    cells = resnet18_cells(pretrained)
    namespace: dict = {}
    try:
        setup_output = run_cells(cells[:1], namespace)
    except Exception as e:  # offline, blocked, or a broken cache: say so and go on with random weights
        if not pretrained:
            raise
        fallback_reason = str(getattr(e, "reason", e)).splitlines()[0][:200]
        cells, namespace = resnet18_cells(False), {}
        setup_output = run_cells(cells[:1], namespace)
    model = namespace["model"]
    shapes: dict[str, tuple] = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
        for n, m in model.named_children()
    ]
    outputs = setup_output + run_cells(cells[1:], namespace)
    for h in hooks:
        h.remove()
    graph_nodes = count_graph_nodes(namespace["loss"])
    seconds = {}
    for cell in cells[1:]:
        start = time.perf_counter()
        run_cells([cell], namespace)
        seconds[cell.key] = time.perf_counter() - start
    modules = [
        {
            "module": n,
            "type": type(m).__name__,
            "parameters": sum(p.numel() for p in m.parameters()),
            "output shape": str(shapes.get(n, "")),
        }
        for n, m in model.named_children()
    ]
    return ResnetResult(cells, outputs, seconds, graph_nodes, modules, fallback_reason)
