"""Chapter 5's page through AppTest: the tutorial's device lines, a race started from the button whose CPU
lane's results render, the honest "no GPU measurement" note on a CPU-only machine, and the page in 中文."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from core.devices import list_devices
from tests.apptest import open_page

CPU_ONLY = len(list_devices()) == 1


def _race(at: AppTest, width: int = 1, steps: int = 6) -> AppTest:
    at.select_slider(key="gpu_width").set_value(width)
    at.selectbox(key="gpu_batch").set_value(4)
    at.run()
    at.slider(key="gpu_steps").set_value(steps)
    at.button(key="gpu_race_run").click().run()
    assert not at.exception
    return at


def test_the_page_shows_the_device_lines_and_names_its_chapter(runs_dir):
    at = open_page("pages/gpu.py")
    assert at.caption[0].value == "Chapter 5 · Training on a GPU"
    assert at.title[0].value == "Training on a GPU"
    code = at.code[0].value
    assert 'device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")' in code
    assert "net.to(device)" in code and "inputs, labels = data[0].to(device), data[1].to(device)" in code
    assert not at.metric  # nothing raced before a click
    assert at.get("page_link")[-1].proto.label == "Back to the map of the course"


def test_the_cpu_lane_runs_from_the_button_and_its_results_render(runs_dir):
    at = _race(open_page("pages/gpu.py"))
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Throughput (images/s)"].replace(",", "")) > 0
    assert metrics["Time"].endswith(" s") and float(metrics["Time"][:-2]) > 0
    assert float(metrics["Last loss"]) > 0
    assert not at.error
    assert any("6 steps per device" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 2  # loss per step, then images/s by width


def test_each_race_adds_its_width_to_the_throughput_chart(runs_dir):
    at = _race(open_page("pages/gpu.py"), width=1)
    at = _race(at, width=2)
    by_width = json.loads(at.get("plotly_chart")[-1].proto.spec)
    (cpu,) = [t for t in by_width["data"] if t["name"].startswith("cpu")]
    assert cpu["x"] == [1, 2] and all(y > 0 for y in cpu["y"])


def test_a_cpu_only_machine_says_no_gpu_measurement_is_recorded_yet(runs_dir):
    at = open_page("pages/gpu.py")
    infos = " ".join(i.value for i in at.info)
    if CPU_ONLY:
        assert "This machine has no GPU" in infos
        assert "No GPU measurement recorded yet" in infos
    else:
        assert "This machine has no GPU" not in infos


def test_the_page_speaks_chinese(runs_dir):
    at = open_page("pages/gpu.py")
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "在 GPU 上训练"
    assert at.caption[0].value == "第 5 章 · 在 GPU 上训练"
    at = _race(at)
    assert "吞吐量（图像/秒）" in [m.label for m in at.metric]
    assert any(c.value.startswith("宽度 1，批次大小 4，每个设备 6 步") for c in at.caption)


def test_in_chinese_the_device_labels_and_code_comments_are_chinese(runs_dir):
    at = open_page("pages/gpu.py")
    at.query_params["lang"] = "zh"
    at.run()
    # the same label as Home's device table, in the machine's list and on the race's lane
    assert any(m.value.startswith("- `cpu（") for m in at.markdown)
    assert "# 数据加载器" in at.code[0].value and "inputs, labels = data[0].to(device)" in at.code[0].value
    at = _race(at)
    assert any(m.value.startswith("**cpu（") for m in at.markdown)
