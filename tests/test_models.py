import pytest
import torch

from core.models import MODELS, LeNet, Net, build_model, get_model_spec


def test_registry_has_the_tutorials_models_and_a_fast_one():
    assert {"tutorial", "lenet", "resnet9-mini", "resnet9"} <= set(MODELS)
    for spec in MODELS.values():
        assert spec.description and spec.parameter_count() > 0


def test_tutorial_net_is_the_seeds_net():
    net = build_model("tutorial")
    assert isinstance(net, Net)
    # The tutorial's Net: conv(3→6,5), conv(6→16,5), fc 400→120→84→10: 62,006 parameters.
    assert get_model_spec("tutorial").parameter_count() == 62006
    assert [tuple(p.shape) for p in net.parameters()][:2] == [(6, 3, 5, 5), (6,)]
    assert net(torch.randn(4, 3, 32, 32)).shape == (4, 10)


def test_lenet_takes_one_channel_like_the_seed():
    net = build_model("lenet")
    assert isinstance(net, LeNet) and get_model_spec("lenet").input_shape == (1, 32, 32)
    params = list(net.parameters())
    assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)  # the seed prints exactly these
    assert net(torch.randn(1, 1, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("name", ["resnet9-mini", "resnet9"])
def test_resnets_forward_and_backward(name):
    net = build_model(name, num_classes=7)
    out = net(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 7)


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match="tutorial"):
        get_model_spec("vgg")


def test_airbench_whitening_decorrelates_2x2_patches():
    net = build_model("airbench-mini")
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.5, 0.3], [0.0, 0.0, 0.2]])  # strongly correlated channels
    x = torch.einsum("ij,bjhw->bihw", mix.T, torch.randn(256, 3, 32, 32, generator=g))
    x = x + 0.7 * x.roll(1, dims=3)  # and correlated neighbours
    net.init_whitening(x)
    out = net.whiten(x) - net.whiten.bias.view(1, -1, 1, 1)
    first = out[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)  # the other 12 are their negatives
    cov = first.T @ first / len(first)
    assert torch.allclose(cov, torch.eye(12), atol=0.05)
    assert not net.whiten.weight.requires_grad  # frozen: only its bias learns
    assert net(x[:4]).shape == (4, 10)
