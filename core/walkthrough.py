"""The tutorial's network walk-throughs, step by step, each with its code and what it printed:
its LeNet (forward, zero_grad, backward, MSELoss and its graph, manual and optim.SGD updates) and the
resnet18 example (forward, backward, one SGD step, timed, summarised by module)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.optim as optim
import torchvision

from .models import LeNet


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


def count_graph_nodes(out: torch.Tensor) -> int:
    seen, stack = set(), [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return len(seen)


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
