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
import torch.nn as nn
import torch.optim as optim
import torchvision

from .messages import N_
from .models import LeNet, Net

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


# The Autograd page's old section 3/4 (LeNet walk-through, resnet18) still calls what follows; it goes away
# with that section now that chapter 3 has its own page (pages/neural_networks.py).


@dataclass
class Step:
    title: str
    code: str
    output: str


def _chain(fn, depth: int = 3) -> list[str]:
    """The first few grad_fn steps back from the loss, as the tutorial prints them."""
    names = []
    while fn is not None and len(names) < depth:
        names.append(type(fn).__name__)
        fn = fn.next_functions[0][0] if fn.next_functions else None
    return names


def lenet_walkthrough(seed: int = 0) -> list[Step]:
    torch.manual_seed(seed)
    net = LeNet()
    steps = [Step("Define the network", "net = Net()\nprint(net)", str(net))]
    params = list(net.parameters())
    shapes = "\n".join(f"{name:14s} {tuple(p.shape)}" for name, p in net.named_parameters())
    steps.append(
        Step(
            "Its learnable parameters",
            "params = list(net.parameters())\nprint(len(params))\nprint(params[0].size())  # conv1's .weight",
            f"{len(params)}\n{params[0].size()}\n\n{shapes}",
        )
    )
    inp = torch.randn(1, 1, 32, 32)
    out = net(inp)
    steps.append(
        Step(
            "A random 32×32 input",
            "input = torch.randn(1, 1, 32, 32)\nout = net(input)\nprint(out)",
            str(out),
        )
    )
    net.zero_grad()
    out.backward(torch.randn(1, 10))
    steps.append(
        Step(
            "Zero the gradients, backprop random gradients",
            "net.zero_grad()\nout.backward(torch.randn(1, 10))",
            f"conv1.bias.grad = {net.conv1.bias.grad}",
        )
    )
    output = net(inp)
    target = torch.randn(10).view(1, -1)
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    steps.append(
        Step(
            "A loss function",
            "output = net(input)\ntarget = torch.randn(10).view(1, -1)\n"
            "criterion = nn.MSELoss()\nloss = criterion(output, target)\nprint(loss)",
            str(loss),
        )
    )
    steps.append(
        Step(
            "The loss's graph, a few steps back",
            "print(loss.grad_fn)  # MSELoss\nprint(loss.grad_fn.next_functions[0][0])  # Linear (addmm)\n"
            "print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # addmm's first input: "
            "fc3.bias",
            "\n".join(_chain(loss.grad_fn)),
        )
    )
    net.zero_grad()
    before = str(net.conv1.bias.grad)
    loss.backward()
    steps.append(
        Step(
            "Backprop",
            "net.zero_grad()\nprint(net.conv1.bias.grad)\nloss.backward()\nprint(net.conv1.bias.grad)",
            f"before backward: {before}\nafter backward:  {net.conv1.bias.grad}",
        )
    )
    learning_rate = 0.01
    with torch.no_grad():
        for f in net.parameters():
            f.sub_(f.grad * learning_rate)
        manual = criterion(net(inp), target)
    steps.append(
        Step(
            "Update the weights by hand: weight = weight - learning_rate * gradient",
            "learning_rate = 0.01\nfor f in net.parameters():\n    f.data.sub_(f.grad.data * learning_rate)",
            f"loss before: {loss.item():.6f}\nloss after:  {manual.item():.6f}",
        )
    )
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    optimizer.zero_grad()
    output = net(inp)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
    after = criterion(net(inp), target)
    steps.append(
        Step(
            "The same with torch.optim",
            "optimizer = optim.SGD(net.parameters(), lr=0.01)\n"
            "optimizer.zero_grad()\noutput = net(input)\nloss = criterion(output, target)\n"
            "loss.backward()\noptimizer.step()",
            f"loss before: {loss.item():.6f}\nloss after:  {after.item():.6f}",
        )
    )
    return steps


def resnet18_demo(pretrained: bool = False, seed: int = 0) -> dict:
    """The tutorial's resnet18 example: forward, backward and an SGD step on a random 1×3×64×64 batch."""
    note = "random initialisation"
    model = None
    if pretrained:
        try:
            model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
            note = "pretrained ImageNet weights"
        except Exception as e:  # offline, blocked, or a broken cache: say so and go on without them
            reason = str(getattr(e, "reason", e)).splitlines()[0][:200]
            note = f"pretrained weights could not be fetched ({reason}); using random initialisation"
    if model is None:
        torch.manual_seed(seed)
        model = torchvision.models.resnet18(weights=None)
    data = torch.rand(1, 3, 64, 64)
    labels = torch.rand(1, 1000)
    shapes: dict[str, tuple] = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
        for n, m in model.named_children()
    ]
    t0 = time.perf_counter()
    prediction = model(data)
    t1 = time.perf_counter()
    for h in hooks:
        h.remove()
    loss = (prediction - labels).sum()
    nodes = count_graph_nodes(loss)
    t2 = time.perf_counter()
    loss.backward()
    t3 = time.perf_counter()
    optim.SGD(model.parameters(), lr=1e-2, momentum=0.9).step()
    t4 = time.perf_counter()
    modules = [
        {
            "module": n,
            "type": type(m).__name__,
            "parameters": sum(p.numel() for p in m.parameters()),
            "output shape": str(shapes.get(n, "")),
        }
        for n, m in model.named_children()
    ]
    return {
        "note": note,
        "graph_nodes": nodes,
        "loss": float(loss.detach()),
        "modules": modules,
        "seconds": {"forward": t1 - t0, "backward": t3 - t2, "optimizer step": t4 - t3},
        "code": "model = resnet18(weights=ResNet18_Weights.DEFAULT)\ndata = torch.rand(1, 3, 64, 64)\n"
        "labels = torch.rand(1, 1000)\nprediction = model(data)  # forward pass\n"
        "loss = (prediction - labels).sum()\nloss.backward()  # backward pass\n"
        "optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)\noptim.step()",
    }
