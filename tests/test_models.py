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
