import io

import pytest
import torch

from core.models import build_model
from core.optim import LeanSGD, make_optimizer, make_schedule, param_groups


def test_norm_shifts_learn_faster_with_the_same_decay_per_step():
    net = build_model("airbench-mini")
    opt = make_optimizer(net, "nesterov", lr=1.5, momentum=0.85, weight_decay=1.3e-3, norm_bias_lr_scale=64)
    rest, shifts = opt.param_groups
    norm_biases = [m.bias for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {id(p) for p in shifts["params"]} == {id(p) for p in norm_biases}
    assert shifts["lr"] == 1.5 * 64 and shifts["lr"] * shifts["weight_decay"] == pytest.approx(1.5 * 1.3e-3)
    assert all(
        p.requires_grad for p in rest["params"]
    )  # frozen weights (whitening, norm scales) are left out
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(
        p.numel() for p in net.parameters() if p.requires_grad
    )


def test_one_group_when_there_is_nothing_to_scale():
    opt = make_optimizer(build_model("tutorial"), "sgd", lr=0.001, momentum=0.9, norm_bias_lr_scale=64)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["momentum"] == 0.9


def test_linear_schedule_warms_up_from_a_fifth_then_falls_to_zero():
    opt = make_optimizer(build_model("tutorial"), "sgd", lr=1.0)
    sched = make_schedule(opt, "linear", 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.2) and max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 20
    assert lrs[-1] == pytest.approx(1 / 80) and all(a >= b for a, b in zip(lrs[20:], lrs[21:]))


@pytest.mark.parametrize("name", ["sgd", "nesterov", "adam", "adamw"])
def test_the_fused_update_on_cpu_matches_torchs_per_parameter_loop(name):
    torch.manual_seed(0)
    fused_net, loop_net = build_model("tutorial"), build_model("tutorial")
    loop_net.load_state_dict(fused_net.state_dict())
    opt = make_optimizer(fused_net, name, lr=0.01, momentum=0.9, weight_decay=1e-3)
    assert opt.defaults["fused"]
    loop_opt = make_optimizer(loop_net, name, lr=0.01, momentum=0.9, weight_decay=1e-3)
    for group in loop_opt.param_groups:
        group.update(fused=None, foreach=False)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for net, o in ((fused_net, opt), (loop_net, loop_opt)):
        for _ in range(3):
            o.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            o.step()
    for a, b in zip(fused_net.parameters(), loop_net.parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
        assert not torch.equal(a, torch.zeros_like(a))


def _copies(model: str, n: int) -> list:
    """`n` networks with the same initial weights."""
    torch.manual_seed(0)
    nets = [build_model(model) for _ in range(n)]
    for net in nets[1:]:
        net.load_state_dict(nets[0].state_dict())
    return nets


def _same(a, b) -> bool:
    """The two networks' weights are equal to the bit."""
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def _torch_sgd(net):
    """torch's own fused SGD with the settings these tests give LeanSGD through make_optimizer."""
    return torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, fused=True)


def _train(net, opt, steps, freeze_at=None):
    """A few steps on fixed data; from `freeze_at` on, the first trainable parameter stops learning."""
    torch.manual_seed(1)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for i in range(steps):
        if i == freeze_at:
            next(p for p in net.parameters() if p.requires_grad).requires_grad_(False)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()


@pytest.mark.parametrize(
    "model, name, momentum, weight_decay, scale",
    [
        ("tutorial", "sgd", 0.9, 0.0, 1),  # the tutorial's recipe
        ("tutorial", "sgd", 0.0, 1e-3, 1),  # no momentum buffers at all
        ("airbench-mini", "nesterov", 0.85, 1.3e-3, 64),  # fast-cpu: two groups, a frozen parameter
    ],
)
def test_the_lean_sgd_leaves_the_same_weights_to_the_bit_as_torchs_fused_sgd(
    model, name, momentum, weight_decay, scale
):
    lean_net, torch_net = _copies(model, 2)
    lean = make_optimizer(lean_net, name, 0.05, momentum, weight_decay, scale)
    assert type(lean) is LeanSGD
    groups = param_groups(torch_net, 0.05, weight_decay, scale)
    ref = torch.optim.SGD(groups, lr=0.05, momentum=momentum, nesterov=name == "nesterov", fused=True)
    for net, opt in ((lean_net, lean), (torch_net, ref)):
        _train(net, opt, 4, freeze_at=2)
    assert _same(lean_net, torch_net)
    assert any(p.grad is not None for p in lean_net.parameters())  # the last step's gradients
    lean.zero_grad()
    assert all(p.grad is None for p in lean_net.parameters())


def _saved(state: dict) -> dict:
    """A state dict as a checkpoint gives it back: through torch.save and torch.load."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer)


def test_a_lean_sgd_checkpoint_resumes_in_torchs_sgd_and_back():
    nets = _copies("tutorial", 3)
    lean = make_optimizer(nets[0], "sgd", 0.05, momentum=0.9)
    _train(nets[0], lean, 2)
    # the same two steps, then the state moves to torch's SGD on another copy, and a lean one again
    plain = _torch_sgd(nets[1])
    _train(nets[1], plain, 2)
    assert _same(nets[0], nets[1])
    moved = _torch_sgd(nets[2])
    nets[2].load_state_dict(nets[0].state_dict())
    moved.load_state_dict(_saved(lean.state_dict()))
    back = make_optimizer(nets[1], "sgd", 0.05, momentum=0.9)
    back.load_state_dict(_saved(plain.state_dict()))
    _train(nets[2], moved, 2)
    _train(nets[1], back, 2)
    _train(nets[0], lean, 2)
    assert _same(nets[0], nets[1]) and _same(nets[0], nets[2])


def test_a_network_of_mixed_dtypes_gets_torchs_own_sgd():
    net = build_model("tutorial")
    net.fc3.half()
    assert type(make_optimizer(net, "sgd", 0.01, momentum=0.9)) is torch.optim.SGD


def test_the_lean_sgd_never_runs_torchs_own_step(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.optim.SGD.step ran")

    monkeypatch.setattr(torch.optim.SGD, "step", refuse)
    net = build_model("tutorial")
    before = [p.clone() for p in net.parameters()]
    _train(net, make_optimizer(net, "nesterov", 0.05, momentum=0.9, weight_decay=1e-3), 2)
    assert not any(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_the_lean_sgd_unscales_as_gradscaler_asks_and_skips_an_overflowing_step():
    nets = _copies("tutorial", 3)
    lean = make_optimizer(nets[0], "sgd", 0.05, momentum=0.9)
    ref = _torch_sgd(nets[1])
    # what GradScaler sets on a fused optimizer: the scale to divide the gradients by, and "no overflow"
    for opt, net in ((lean, nets[0]), (ref, nets[1])):
        opt.grad_scale, opt.found_inf = torch.tensor(4.0), torch.tensor(0.0)
        _train(net, opt, 2)
    assert _same(nets[0], nets[1])
    # an overflow on the very first step: nothing moves, and the next step is a clean first step
    skipper = make_optimizer(nets[2], "sgd", 0.05, momentum=0.9)
    start = [p.clone() for p in nets[2].parameters()]
    skipper.found_inf = torch.tensor(1.0)
    _train(nets[2], skipper, 1)
    assert all(torch.equal(a, b) for a, b in zip(start, nets[2].parameters()))
    del skipper.found_inf
    clean_net = build_model("tutorial")
    clean_net.load_state_dict(nets[2].state_dict())
    _train(nets[2], skipper, 1)
    _train(clean_net, _torch_sgd(clean_net), 1)
    assert _same(nets[2], clean_net)
