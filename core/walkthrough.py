"""Chapter 3 (neural networks) as cells of real code, run when the learner asks.

Each cell's code is the code that runs: `run_cells` executes the cells' text in one namespace, in order,
and each cell's output is what its `print` calls wrote. The network is the tutorial's LeNet (1 input
channel, 32×32), the same layers as the registry's `lenet` model (a test holds them equal). Comments and
printed labels follow the learner's language, as the tutorial's Chinese edition does. Every random draw
follows a `torch.manual_seed` written in the code, so running the shown code anywhere prints the same.
"""

from __future__ import annotations

import functools
import io
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode

from .catalogs import translations
from .messages import N_

NET_SEED = 0

# The tutorial's LeNet as chapter 3 shows and runs it. Its comments are filled in per language and the
# shapes in them are measured (`lenet_source`), never typed: 32×32 in, (N, 400) after flatten.
LENET = """class Net(nn.Module):

    def __init__(self):
        super().__init__()
        # {conv}
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # {affine}
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # {fc1}
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))  # C1: {c1}
        s2 = F.max_pool2d(c1, (2, 2))  # S2: {s2}
        c3 = F.relu(self.conv2(s2))  # C3: {c3}
        s4 = F.max_pool2d(c3, 2)  # S4: {s4}
        s4 = torch.flatten(s4, 1)  # {flatten}
        f5 = F.relu(self.fc1(s4))  # F5: {f5}
        f6 = F.relu(self.fc2(f5))  # F6: {f6}
        output = self.fc3(f6)  # OUTPUT: {output}
        return output"""
LENET_INPUT = (1, 1, 32, 32)
# what the comments say, translated where the class is shown
COMMENTS = {
    "conv": N_("1 input channel (a grayscale image), 6 output channels, 5×5 convolution kernels"),
    "affine": N_("fully connected layers: y = Wx + b"),
    "fc1": N_("16 channels × 5 × 5 pixels arrive here (see the shapes cell)"),
    "flatten": N_("flatten: {shape}"),
}
OUTPUTS = ("c1", "s2", "c3", "s4", "flatten", "f5", "f6", "output")  # the forward's lines, in order


class _Shapes(TorchFunctionMode):
    """Records the shape of every tensor a torch function returns, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, tuple[int, ...]]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's protocol)
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.seen.append((getattr(func, "__name__", ""), tuple(out.shape)))
        return out


@functools.cache
def lenet_shapes() -> dict[str, str]:
    """Each forward line's output shape, measured on a 1×1×32×32 input (the batch shown as N)."""
    namespace = _namespace()
    exec(compile(LENET.format(**dict.fromkeys((*COMMENTS, *OUTPUTS), "")), "<lenet>", "exec"), namespace)
    net, x = namespace["Net"](), torch.zeros(LENET_INPUT)
    with _Shapes() as mode:
        net(x)
    # a line's result is its last call: relu after conv2d or linear, the pools, flatten, the final linear
    kept = [shape for name, shape in mode.seen if name in ("relu", "max_pool2d", "flatten")] + [
        mode.seen[-1][1]
    ]
    return {key: "(N, " + ", ".join(map(str, shape[1:])) + ")" for key, shape in zip(OUTPUTS, kept)}


def lenet_source(lang: str = "en") -> str:
    """The tutorial's LeNet with its comments in `lang` and its measured shapes."""
    tr = translations(lang)
    shapes = lenet_shapes()
    comments = {k: tr.gettext(v) for k, v in COMMENTS.items()}
    comments["flatten"] = comments["flatten"].format(shape=shapes["flatten"])
    return LENET.format(**comments, **{k: v for k, v in shapes.items() if k != "flatten"})


def _namespace() -> dict:
    import torch.nn as nn
    import torch.nn.functional as F

    return {"torch": torch, "nn": nn, "F": F}


@dataclass(frozen=True)
class Cell:
    key: str  # stable id: the page's anchor and widget keys
    title: str  # English, marked for translation
    code: str


def _code(text: str) -> str:
    return textwrap.dedent(text).strip()


# Labels the cells print, as the tutorial's code prints them (its Chinese edition prints Chinese ones).
LABELS = {
    "before": N_("conv1.bias.grad before backward"),
    "after": N_("conv1.bias.grad after backward"),
    "loss_before": N_("loss before:"),
    "loss_after": N_("loss after: "),
}


def net_cells(input_seed: int = 1, lang: str = "en") -> tuple[Cell, ...]:
    """The tutorial's "Neural networks" section on its LeNet, with comments and printed labels in `lang`;
    `input_seed` draws the input (and the random gradient and target that follow it)."""
    tr = translations(lang)
    label = {k: tr.gettext(v) for k, v in LABELS.items()}
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
    shapes = """
        x = torch.zeros(1, 1, 32, 32)
        print("input      ", tuple(x.shape))
        x = F.relu(net.conv1(x))
        print("conv1, relu", tuple(x.shape))  # 32 - 5 + 1 = 28
        x = F.max_pool2d(x, 2)
        print("max_pool2d ", tuple(x.shape))  # 28 / 2 = 14
        x = F.relu(net.conv2(x))
        print("conv2, relu", tuple(x.shape))  # 14 - 5 + 1 = 10
        x = F.max_pool2d(x, 2)
        print("max_pool2d ", tuple(x.shape))  # 10 / 2 = 5
        x = torch.flatten(x, 1)
        print("flatten    ", tuple(x.shape), "=", 16 * 5 * 5)
    """
    forward = """
        input = torch.randn(1, 1, 32, 32)
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
    backprop = f"""
        net.zero_grad()  # zeroes the gradient buffers of all parameters
        print("{label["before"]}")
        print(net.conv1.bias.grad)
        loss.backward()
        print("{label["after"]}")
        print(net.conv1.bias.grad)
    """
    manual_sgd = f"""
        learning_rate = 0.01
        print("{label["loss_before"]}", criterion(net(input), target).item())
        for f in net.parameters():
            f.data.sub_(f.grad.data * learning_rate)
        print("{label["loss_after"]}", criterion(net(input), target).item())
    """
    optim_sgd = f"""
        optimizer = optim.SGD(net.parameters(), lr=0.01)
        optimizer.zero_grad()  # zero the gradient buffers
        output = net(input)
        loss = criterion(output, target)
        print("{label["loss_before"]}", loss.item())
        loss.backward()
        optimizer.step()  # does the update
        print("{label["loss_after"]}", criterion(net(input), target).item())
    """
    return (
        Cell("imports", N_("Imports"), _code(imports)),
        Cell("class", N_("The tutorial's network: LeNet"), lenet_source(lang)),
        Cell(
            "net",
            N_("Make a network and print it"),
            f"torch.manual_seed({NET_SEED})\nnet = Net()\nprint(net)",
        ),
        Cell("parameters", N_("Its learnable parameters"), _code(parameters)),
        Cell("shapes", N_("Where 16 * 5 * 5 comes from: the shape after each layer"), _code(shapes)),
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
