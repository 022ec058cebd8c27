import pytest
import torch

from core.models import build_model
from core.optim import make_optimizer, make_schedule


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
