import pytest
import torch

from core.devices import DeviceError, default_device, list_devices, resolve_device


def test_cpu_is_always_listed_first_with_a_label():
    devices = list_devices()
    assert devices[0].name == "cpu"
    assert all(d.label.startswith(d.name) for d in devices)


def test_auto_follows_the_tutorials_rule():
    """`cuda:0 if torch.cuda.is_available() else cpu`, with Apple's GPU before the CPU."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    expected = "cuda:0" if torch.cuda.is_available() else "mps" if mps else "cpu"
    assert default_device() == expected
    assert str(resolve_device("auto")) == expected
    assert resolve_device("CPU") == torch.device("cpu")


@pytest.mark.parametrize("bad", ["cuda:99", "tpu", "mps:3"])
def test_unknown_device_lists_the_available_ones(bad):
    with pytest.raises(DeviceError) as e:
        resolve_device(bad)
    assert bad in str(e.value) and "cpu" in str(e.value)


def test_labels_and_refusals_keep_their_english_and_a_template_the_app_translates():
    cpu = list_devices()[0]
    assert (
        cpu.label == f"cpu ({torch.get_num_threads()} threads)"
        and cpu.label.template == "cpu ({threads} threads)"
    )
    with pytest.raises(DeviceError) as e:
        resolve_device("tpu")
    assert e.value.template == "Device '{device}' is not available here. Available: {devices}."
    assert e.value.values["device"] == "tpu"
