"""core.layers: the text form ↔ layers ↔ module round trip, shapes from the meta device equal to a real
forward pass (Hypothesis), each mismatch naming its layer and the value that fits, bounded input; and the
chapter 3 builder through AppTest."""

from __future__ import annotations

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from core.layers import CIFAR_NET, LENET, LayerNet, LayersError, infer, net_code, parse, text_form
from core.models import LeNet, Net
from tests.apptest import APP


def test_the_text_form_round_trips_and_lenet_is_the_tutorials():
    layers = parse(LENET)
    assert text_form(layers) == LENET
    assert (
        text_form(parse("Conv2d(3, 6, kernel_size=5) | relu".replace("relu", "ReLU()")))
        == "Conv2d(3, 6, 5) | ReLU"
    )
    assert text_form(parse("MaxPool2d(2, stride=1) | Dropout(0.25) | Conv2d(3, 8, 3, padding=1)")) == (
        "MaxPool2d(2, stride=1) | Dropout(p=0.25) | Conv2d(3, 8, 3, padding=1)"
    )
    built, reference = LayerNet(layers), LeNet()
    reference.load_state_dict(built.state_dict())  # the same names and shapes as the registry's lenet
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(built(x), reference(x))
    cifar = LayerNet(parse(CIFAR_NET))
    Net().load_state_dict(cifar.state_dict())


def test_the_shapes_are_the_tutorials_comments():
    rows = infer(parse(LENET), (1, 32, 32))
    shapes = {r.name: r.shape[1:] for r in rows}
    assert (
        shapes["conv1"] == (6, 28, 28) and shapes["pool1"] == (6, 14, 14) and shapes["conv2"] == (16, 10, 10)
    )
    assert shapes["pool2"] == (16, 5, 5) and shapes["flatten1"] == (400,) and shapes["fc3"] == (10,)
    assert sum(r.parameters for r in rows) == 61_706


def test_multiply_adds_are_those_torch_counts_for_the_layers_that_have_them():
    """Convolutions and linear layers, as torch's FLOP counter counts them (2 FLOPs a multiply-add); ReLU,
    pooling and Flatten add none (they once counted one per output value: 425,004 for LeNet)."""
    from torch.utils.flop_counter import FlopCounterMode

    layers = parse(LENET)
    rows = infer(layers, (1, 32, 32))
    with FlopCounterMode(display=False) as counter:
        LayerNet(layers)(torch.randn(1, 1, 32, 32))
    assert sum(r.macs for r in rows) == counter.get_total_flops() // 2 == 416_520
    assert all(r.macs == 0 for r in rows if not r.name.startswith(("conv", "fc")))


def test_the_generated_class_builds_the_same_network():
    layers = parse(LENET)
    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    exec(net_code(layers, (1, 32, 32)), namespace)  # our own generated code
    generated, built = namespace["Net"](), LayerNet(layers)
    generated.load_state_dict(built.state_dict())
    x = torch.randn(3, 1, 32, 32)
    assert torch.equal(generated(x), built(x))
    assert "x = torch.flatten(x, 1)  # (N, 400)" in net_code(layers, (1, 32, 32))


KIND = st.sampled_from(["conv", "pool", "relu", "bn", "drop"])


@st.composite
def networks(draw):
    """A random valid network for a 3×32×32 input: image layers, then Flatten and Linear layers."""
    channels, size, parts = 3, 32, []
    for kind in draw(st.lists(KIND, max_size=6)):
        if kind == "conv":
            out, k, pad = draw(st.integers(1, 12)), draw(st.integers(1, 5)), draw(st.integers(0, 2))
            if size + 2 * pad < k:
                continue
            parts.append(f"Conv2d({channels}, {out}, {k}, padding={pad})")
            channels, size = out, size + 2 * pad - k + 1
        elif kind == "pool" and size >= 2:
            parts.append(draw(st.sampled_from(["MaxPool2d(2)", "AvgPool2d(2)"])))
            size //= 2
        elif kind == "bn":
            parts.append(f"BatchNorm2d({channels})")
        elif kind == "drop":
            parts.append("Dropout(0.5)")
        else:
            parts.append("ReLU")
    features = channels * size * size
    parts.append("Flatten")
    for out in draw(st.lists(st.integers(1, 20), min_size=1, max_size=3)):
        parts.append(f"Linear({features}, {out})")
        features = out
    return " | ".join(parts)


@settings(max_examples=25, deadline=None)
@given(networks())
# batch-norm on a 1×1 map: a shape that fits (once refused as torch's training-mode error)
@example(" | ".join(["MaxPool2d(2)"] * 4 + ["Conv2d(3, 1, 2)", "BatchNorm2d(1)", "Flatten", "Linear(1, 1)"]))
def test_meta_shapes_and_counts_equal_a_real_forward_pass(text):
    layers = parse(text)
    rows = infer(layers, (3, 32, 32))
    net = LayerNet(layers).eval()
    assert net(torch.zeros(2, 3, 32, 32)).shape[1:] == rows[-1].shape[1:]
    assert sum(p.numel() for p in net.parameters()) == sum(r.parameters for r in rows)
    assert text_form(parse(text_form(layers))) == text_form(layers)


@pytest.mark.parametrize(
    "text, said",
    [
        (
            LENET.replace("Linear(400, 120)", "Linear(576, 120)"),
            "fc1 expects 576 inputs; with this input it receives 16 "
            "channels × 5 × 5 = 400: set in_features to 400.",
        ),
        (LENET.replace("Conv2d(6, 16, 5)", "Conv2d(8, 16, 5)"), "conv2 expects 8 channels but receives 6"),
        (
            LENET.replace(" Flatten |", ""),
            "fc1 expects (N, 400) but receives (N, 16, 5, 5): put Flatten before it.",
        ),
        (
            "Conv2d(1, 6, 15) | MaxPool2d(2) | Conv2d(6, 6, 15)",
            "conv2's 15×15 window does not fit the 9×9 maps",
        ),
        ("Conv2d(1, 6, 5) | Softmax", "'Softmax' is not one of"),
        ("Conv2d(1, -6, 5)", "must be a whole number"),
        ("Conv2d(1, 6)", "Conv2d needs kernel_size"),
        ("Conv2d(1, 6, open('x'))", "must be plain numbers"),
        (" | ".join(["ReLU"] * 10_000), "characters"),
        (" | ".join(["ReLU"] * 65), "more than this builder's limit of 64"),
        ("Conv2d(1, 4096, 3, padding=1) | Conv2d(4096, 4096, 3, padding=1)", "parameters by conv2"),
        ("", "no layers"),
    ],
)
def test_a_bad_network_gets_one_sentence_naming_the_layer(text, said):
    with pytest.raises(LayersError) as refused:
        infer(parse(text), (1, 32, 32))
    assert said in str(refused.value)


def _open(lang: str | None = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    at.switch_page("pages/neural_networks.py").run()
    assert not at.exception
    return at


def test_the_builder_starts_from_lenet_breaks_and_is_fixed_in_chinese():
    at = _open()
    assert at.text_area(key="builder_text_lenet").value.splitlines()[0] == "Conv2d(1, 6, 5)"
    table = at.dataframe[-1].value
    assert list(table["output"])[:2] == ["(N, 6, 28, 28)", "(N, 6, 28, 28)"] and "(N, 400)" in list(
        table["output"]
    )
    assert any(
        "class Net(nn.Module):" in c.value and "self.fc1 = nn.Linear(400, 120)" in c.value for c in at.code
    )
    broken = at.text_area(key="builder_text_lenet").value.replace("Linear(400, 120)", "Linear(576, 120)")
    at.text_area(key="builder_text_lenet").set_value(broken).run()
    message = at.error[0].value
    assert "fc1" in message and "400" in message and any("\u4e00" <= ch <= "\u9fff" for ch in message)
    assert list(at.dataframe[-1].value["name"])[-1] == "flatten1"  # the layers before fc1 still shown
    at.text_area(key="builder_text_lenet").set_value(broken.replace("576", "400")).run()
    assert not at.error


def test_the_builder_can_start_from_the_cifar_net():
    at = _open(None)
    at.segmented_control(key="builder_input").set_value("cifar").run()
    assert at.text_area(key="builder_text_cifar").value.splitlines()[0] == "Conv2d(3, 6, 5)"
    built = [c.value for c in at.code if "class Net(nn.Module):" in c.value][-1]
    assert "# x: (N, 3, 32, 32)" in built and "self.conv1 = nn.Conv2d(3, 6, 5)" in built


@pytest.mark.slow
def test_a_built_network_trains_resumes_evaluates_and_exports(tmp_path, monkeypatch, small_data, capsys):
    from dataclasses import asdict

    import core.trainer
    from core.config import make_config
    from core.control import Control
    from core.evaluation import evaluate_run
    from core.export import main as export_main
    from core.runs import RunStore
    from core.trainer import train
    from core.validate import run_problems

    # a mismatch is refused before anything runs, naming the layer
    broken = make_config(
        model="custom", layers=CIFAR_NET.replace("Linear(400", "Linear(576"), data="synthetic"
    )
    assert "fc1 expects 576 inputs" in str(run_problems(broken)["layers"])
    cfg = make_config(model="custom", layers=CIFAR_NET, data="synthetic", epochs=1, batch_size=32, lr=0.01)
    assert run_problems(cfg) == {}
    run = RunStore(tmp_path / "runs").create(asdict(cfg), name="built")
    monkeypatch.setattr(core.trainer, "LOG_SECONDS", 0)
    control = Control()

    def stop_at_step_5(event):
        if event.get("global_step") == 5:
            control.stop()

    assert (
        train(cfg, run, on_event=stop_at_step_5, control=control, dataset=small_data)["status"] == "stopped"
    )
    assert train(cfg, run, dataset=small_data)["status"] == "completed"  # resumed from the checkpoint
    report, _ds = evaluate_run(run, dataset=small_data)
    assert 0 <= report.accuracy <= 1
    assert export_main([run.id, "--runs-dir", str(tmp_path / "runs")]) == 0
    script = capsys.readouterr().out
    assert "self.fc1 = nn.Linear(400, 120)" in script and "net = Net()" in script


def test_the_command_line_refuses_a_mismatch_before_any_run_folder(tmp_path, capsys):
    from core.train import main

    runs = tmp_path / "runs"
    layers = CIFAR_NET.replace("Linear(400", "Linear(576")
    with pytest.raises(SystemExit) as refused:
        main(["--data", "synthetic", "--model", "custom", "--layers", layers, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert refused.value.code == 2 and err.count("\n") == 1
    assert "fc1 expects 576 inputs; with this input it receives 16 channels × 5 × 5 = 400" in err
    assert not runs.exists() or not any(runs.iterdir())


def test_the_train_page_offers_the_network_built_in_chapter_3(runs_dir):
    at = _open(None)
    built = at.text_area(key="builder_text_lenet").value.replace("Conv2d(6, 16, 5)", "Conv2d(6, 12, 5)")
    built = built.replace("Linear(400, 120)", "Linear(300, 120)")
    at.text_area(key="builder_text_lenet").set_value(built).run()
    assert not at.error
    at.switch_page("pages/train.py").run()
    at.selectbox(key="f_model").set_value("custom").run()
    assert at.text_area(key="f_layers").value == built  # the network built on chapter 3's page
    assert any("--model custom --layers 'Conv2d(1, 6, 5) | ReLU" in c.value for c in at.code)
    assert not at.button(key="start").disabled
    at.text_area(key="f_layers").set_value(built.replace("Linear(300", "Linear(400")).run()
    said = " ".join(e.value for e in at.error) + " ".join(m.value for m in at.markdown)
    assert "fc1 expects 400 inputs" in said and at.button(key="start").disabled
