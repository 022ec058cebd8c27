"""Chapter 3's page through AppTest: nothing is computed before a click, and every output it shows is
what its shown code prints when run directly, in order (same seeds)."""

from __future__ import annotations

import contextlib
import io

from streamlit.testing.v1 import AppTest

from tests.apptest import APP, open_page


def _direct(codes: list[str]) -> list[str]:
    """Run code blocks in order in one namespace, the plain Python way, and return what each printed."""
    namespace: dict = {}
    printed = []
    for code in codes:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        printed.append(out.getvalue())
    return printed


def _shown(at: AppTest) -> list[tuple[str, str | None]]:
    """The page's code blocks, each with the output block that follows it (None when none does)."""
    blocks = [(c.language, c.value) for c in at.code]
    pairs = []
    for i, (language, value) in enumerate(blocks):
        if language == "python":
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            pairs.append((value, following[1] if following and following[0] == "text" else None))
    return pairs


def _assert_outputs_are_what_the_code_prints(pairs: list[tuple[str, str | None]]) -> None:
    direct = _direct([code for code, _ in pairs])
    for (code, shown), printed in zip(pairs, direct):
        assert (shown or "").rstrip("\n") == printed.rstrip("\n"), code


def test_cells_run_on_click_and_print_what_their_code_prints(runs_dir):
    at = open_page("pages/neural_networks.py")
    assert not [c for c in at.code if c.language == "text"]  # nothing computed before a click
    assert any(c.value.startswith("class Net(nn.Module):") for c in at.code)
    at.button(key="nn_run_all").click().run()
    assert not at.exception
    pairs = _shown(at)
    assert sum(shown is not None for _code, shown in pairs) >= 8
    assert any(shown and shown.startswith("Net(\n  (conv1): Conv2d(1, 6") for _code, shown in pairs)
    _assert_outputs_are_what_the_code_prints(pairs)


def test_a_new_random_input_changes_the_outputs_and_they_still_match_the_code(runs_dir):
    at = open_page("pages/neural_networks.py")
    at.button(key="nn_run_all").click().run()
    before = _shown(at)
    at.button(key="nn_new_input").click().run()
    assert not at.exception
    after = _shown(at)
    assert any("torch.manual_seed(2)" in code for code, _ in after)
    assert [s for _c, s in before] != [s for _c, s in after]
    _assert_outputs_are_what_the_code_prints(after)


def test_run_one_cell_runs_those_before_it_only(runs_dir):
    at = open_page("pages/neural_networks.py")
    at.button(key="nn_run_parameters").click().run()
    assert not at.exception
    outputs = [c.value for c in at.code if c.language == "text"]
    assert outputs[0].startswith("Net(") and outputs[-1].startswith("10\ntorch.Size([6, 1, 5, 5])")
    assert len(outputs) == 2  # print(net) and the parameters; the imports and the class print nothing


def test_resnet18_shows_the_weights_it_used_and_times_after_a_warm_up(runs_dir):
    at = open_page("pages/neural_networks.py")
    at.button(key="nn_resnet_run").click().run()
    assert not at.exception
    resnet = _shown(at)[-4:]  # the resnet18 cells come last
    assert "resnet18(weights=None)" in resnet[0][0] and "ResNet18_Weights" not in resnet[0][0]
    assert resnet[1][1].startswith("torch.Size([1, 1000])")
    _assert_outputs_are_what_the_code_prints(resnet)
    assert {m.label for m in at.metric} == {
        "autograd graph nodes",
        "Forward pass",
        "Backward pass",
        "One step of gradient descent",
    }
    modules = next(df.value for df in at.dataframe if "module" in df.value.columns)
    assert "layer4" in set(modules["module"])


def test_the_page_names_its_chapter_and_links_to_the_next(runs_dir):
    at = open_page("pages/neural_networks.py")
    assert at.caption[0].value == "Chapter 3 · Neural networks"
    links = at.get("page_link")
    assert links[-1].proto.label == "Next: 4 · Training a classifier · Train"


def test_in_chinese_the_code_comments_and_printed_labels_are_chinese(runs_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.switch_page("pages/neural_networks.py").run()
    at.button(key="nn_run_all").click().run()
    assert not at.exception
    assert any("# 输入 1 个通道" in c.value for c in at.code if c.language == "python")
    printed = [c.value for c in at.code if c.language == "text"]
    assert any(p.startswith("conv1.bias.grad 反向传播前\nNone") for p in printed)
    _assert_outputs_are_what_the_code_prints(_shown(at))
