"""The training page through Streamlit's AppTest, with real jobs on generated data."""

import http.server
import re
import threading

import pytest
from streamlit.testing.v1 import AppTest

from core import cifar
from core.cifar import ARCHIVE, ARCHIVE_MD5, FOLDER
from core.runs import RunStore
from tests.apptest import APP, open_page
from tests.generated import fake_cifar, write_images
from tests.wait import wait_for

DEAD = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # the discard port: a download host that never answers


def plain(markdown: str) -> str:
    """Markdown escaped by ui.safe.md, as the browser shows it."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> str:
    return " | ".join(plain(e.value) for e in at.error)


def texts(elements) -> str:
    return " | ".join(plain(e.value) for e in elements)


@pytest.fixture
def offline(monkeypatch):
    """A machine that cannot reach CIFAR-10's download host, whatever this one can."""
    monkeypatch.setenv(cifar.URL_ENV, DEAD)
    cifar._probes.clear()


def test_the_form_starts_from_the_tutorial_recipe_and_shows_the_cli(runs_dir):
    at = open_page("pages/train.py")
    assert at.selectbox(key="f_preset").value == "tutorial"
    assert (at.number_input(key="f_batch_size").value, at.number_input(key="f_lr").value) == (4, 0.001)
    assert any("python -m core.train --data synthetic --preset tutorial" in c.value for c in at.code)
    assert not at.button(key="start").disabled
    assert any("No runs yet" in i.value for i in at.info)


def test_a_preset_fills_the_form_and_edits_show_as_flags(runs_dir):
    at = open_page("pages/train.py")
    at.selectbox(key="f_preset").set_value("fast-cpu").run()
    assert (
        at.selectbox(key="f_model").value == "airbench-mini"
        and at.number_input(key="f_batch_size").value == 256
    )
    assert (
        at.number_input(key="f_norm_bias_lr_scale").value == 64 and at.selectbox(key="f_amp").value == "bf16"
    )
    at.number_input(key="f_epochs").set_value(3).run()
    assert any("--preset fast-cpu" in c.value and c.value.endswith("--epochs 3") for c in at.code)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("f_lr", 0.0, "Learning rate must be a positive number"),
        ("f_batch_size", 6000, "larger than the 5,000 training images"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(runs_dir, key, value, message):
    at = open_page("pages/train.py")
    at.number_input(key=key).set_value(value).run()
    assert message in errors(at) and at.button(key="start").disabled


def test_a_folder_that_is_not_imagefolder_layout_is_explained(runs_dir, tmp_path):
    at = open_page("pages/train.py")
    at.radio(key="f_data").set_value("folder").run()
    assert "Enter the path of your image folder." in errors(at)
    (tmp_path / "pics" / "cats").mkdir(parents=True)
    at.text_input(key="f_folder").input(str(tmp_path / "pics")).run()
    assert "not in ImageFolder layout" in errors(at) and at.button(key="start").disabled


@pytest.mark.slow
def test_start_streams_events_and_stop_ends_the_run(runs_dir):
    at = open_page("pages/train.py")
    at.number_input(key="f_epochs").set_value(50).run()
    at.button(key="start").click().run()
    assert not at.exception
    (run,) = RunStore(runs_dir).list()
    assert at.query_params["run"] == run.id
    wait_for(lambda: any(e["type"] == "step" for e in run.events()))
    at.run()
    assert any(run.id in m.value and "running" in m.value for m in at.markdown)
    at.button(key="live_stop").click().run()
    wait_for(lambda: run.status == "stopped", 10)
    at.run()
    assert any("stopped" in m.value for m in at.markdown)
    assert run.checkpoint_path.exists()


@pytest.mark.slow
def test_a_second_start_on_a_busy_device_names_the_run(runs_dir):
    at = open_page("pages/train.py")
    at.number_input(key="f_epochs").set_value(50).run()
    at.button(key="start").click().run()
    (run,) = RunStore(runs_dir).list()
    try:
        second = AppTest.from_file(APP, default_timeout=60)
        second.switch_page("pages/train.py").run()
        assert (
            f"Device cpu is busy with run {run.id}." in errors(second) and second.button(key="start").disabled
        )
    finally:
        at.button(key="live_stop").click().run()
        wait_for(lambda: run.status == "stopped", 10)


@pytest.mark.slow
def test_a_failed_run_says_why(runs_dir):
    at = open_page("pages/train.py")
    at.selectbox(key="f_optimizer").set_value("sgd").run()
    at.number_input(key="f_lr").set_value(10.0).run()  # the largest accepted: diverges at once
    at.button(key="start").click().run()
    (run,) = RunStore(runs_dir).list()
    wait_for(lambda: run.status == "failed")
    at.run()
    assert "Lower the learning rate" in errors(at)


def test_the_form_keeps_its_values_across_pages(runs_dir):
    at = open_page("pages/train.py")
    at.number_input(key="f_epochs").set_value(40).run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/train.py").run()
    assert at.number_input(key="f_epochs").value == 40


def test_offline_cifar10_keeps_start_disabled_and_says_how_to_get_it(runs_dir, offline):
    at = open_page("pages/train.py")
    # nothing on disk: the demo shapes are the default, and the page says why
    assert at.radio(key="f_data").value == "synthetic"
    assert "CIFAR-10, the tutorial's data, is not in the data folder" in texts(at.caption)
    at.radio(key="f_data").set_value("cifar10").run()
    assert at.button(key="start").disabled
    text = errors(at)
    assert "cannot be downloaded from here (127.0.0.1 does not answer)" in text
    assert str(runs_dir.parent / "data" / ARCHIVE) in text  # where to place the official archive
    assert f"{FOLDER} folder or a {ARCHIVE} file" in texts(at.info).replace("`", "")
    at.button(key="f_use_demo").click().run()
    assert at.radio(key="f_data").value == "synthetic" and not at.button(key="start").disabled


def _typed_copies(tmp_path):
    (tmp_path / "junk" / ARCHIVE).parent.mkdir()
    (tmp_path / "junk" / ARCHIVE).write_bytes(b"not the archive")
    (tmp_path / "photos" / "holiday").mkdir(parents=True)
    return {
        "missing": (tmp_path / "nowhere", "does not exist"),
        "wrong md5": (tmp_path / "junk" / ARCHIVE, f"the official one is {ARCHIVE_MD5}"),
        "wrong layout": (tmp_path / "photos", f"holds neither CIFAR-10 ({FOLDER} or {ARCHIVE})"),
    }


@pytest.mark.parametrize("case", ["missing", "wrong md5", "wrong layout"])
def test_a_typed_cifar10_path_is_checked(runs_dir, offline, tmp_path, case):
    path, message = _typed_copies(tmp_path)[case]
    at = open_page("pages/train.py")
    at.radio(key="f_data").set_value("cifar10").run()
    at.text_input(key="f_cifar_path").input(str(path)).run()
    assert message in errors(at) and at.button(key="start").disabled
    assert "cannot be downloaded" not in errors(at)  # the copy's problem, not the download's


def test_a_typed_image_folder_of_cifar10_trains_from_that_folder(runs_dir, offline, tmp_path):
    write_images(tmp_path / "cifar-jpeg" / "train", ["cat", "dog"], 4)
    write_images(tmp_path / "cifar-jpeg" / "test", ["cat", "dog"], 2)
    at = open_page("pages/train.py")
    at.radio(key="f_data").set_value("cifar10").run()
    at.text_input(key="f_cifar_path").input(str(tmp_path / "cifar-jpeg")).run()
    at.number_input(key="f_batch_size").set_value(4).run()
    assert not errors(at) and not at.button(key="start").disabled
    assert "8 training images." in texts(at.caption)
    assert any(f"--data {tmp_path / 'cifar-jpeg'}" in c.value for c in at.code)


def test_cifar10_on_disk_is_the_default_and_a_copy_that_is_not_official_is_refused(runs_dir, offline):
    fake_cifar(runs_dir.parent / "data")
    at = open_page("pages/train.py")
    assert at.radio(key="f_data").value == "cifar10"
    assert "is not the official CIFAR-10" in errors(at) and at.button(key="start").disabled


def test_a_copy_that_is_not_official_trains_as_own_data_in_one_click(runs_dir, offline):
    """Issue 21: refused as CIFAR-10 (its md5s), its files still have CIFAR-10's layout: the way forward
    uses what the learner has (no archive to "unpack again"), and says why."""
    fake_cifar(runs_dir.parent / "data")
    batches = str(runs_dir.parent / "data" / FOLDER)
    at = open_page("pages/train.py")
    assert "unpack" not in errors(at) and "train on them as they are, as your own data" in errors(at)
    at.button(key="f_use_own_data").click().run()
    assert not at.exception
    assert at.radio(key="f_data").value == "folder" and at.text_input(key="f_folder").value == batches
    at.number_input(key="f_batch_size").set_value(4).run()
    assert not errors(at) and not at.button(key="start").disabled
    assert "100 training images." in texts(at.caption)
    assert "read as they are (without the official md5 check)" in texts(at.caption)
    assert any(f"--data {batches}" in c.value for c in at.code)
    at.toggle(key="f_preview").set_value(True).run()
    assert not at.exception and not errors(at) and at.get("image")


def test_a_reachable_download_host_lets_cifar10_start(runs_dir, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(cifar.URL_ENV, f"http://127.0.0.1:{server.server_port}/{ARCHIVE}")
    cifar._probes.clear()
    try:
        at = open_page("pages/train.py")
        at.radio(key="f_data").set_value("cifar10").run()
    finally:
        server.shutdown()
        server.server_close()
    assert not errors(at) and not at.button(key="start").disabled
    assert "the first run downloads it (163 MB, once)" in texts(at.caption)


def test_in_chinese_the_form_and_its_refusals_are_chinese(runs_dir, offline):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.title[0].value == "🏋️ 训练分类器"
    assert at.caption[0].value == "第 4 章 · 训练分类器"
    assert at.button(key="start").label == "开始训练"
    assert at.number_input(key="f_lr").label == "学习率" and at.selectbox(key="f_optimizer").label == "优化器"
    assert any(i.value == "还没有训练记录：在上面开始一次吧。" for i in at.info)
    at.radio(key="f_data").set_value("cifar10").run()
    assert "本机也无法下载（127.0.0.1 没有响应）" in errors(at) and "手动安装" in errors(at)
    assert at.get("page_link")[-1].proto.label == "下一步：4 · 训练分类器 · 报告"


def test_the_page_names_its_chapter_and_links_to_the_report(runs_dir):
    at = open_page("pages/train.py")
    assert at.caption[0].value == "Chapter 4 · Training a classifier"
    assert at.get("page_link")[-1].proto.label == "Next: 4 · Training a classifier · Report"


def _device_picker(at: AppTest):
    """The device selectbox's proto: its options, and the label the browser is told to show."""
    return at.selectbox(key="f_device").proto


def test_the_device_picker_drops_busy_once_the_run_holding_it_ends(runs_dir):
    store = RunStore(runs_dir)
    run = store.create({"model": "tutorial", "device": "cpu", "epochs": 1})  # running, owned by this test
    at = open_page("pages/train.py")
    assert any("busy with" in o for o in _device_picker(at).options)
    run.write_summary({**run.summary(), "status": "completed"})
    at.run()
    picker = _device_picker(at)
    assert not any("busy" in o for o in picker.options)
    # the browser shows raw_value when set_value is set, else the label it had: it must get the new one
    assert picker.set_value and picker.raw_value == picker.options[0] and "busy" not in picker.raw_value


def test_the_device_picker_label_follows_the_language(runs_dir):
    at = open_page("pages/train.py")
    at.query_params["lang"] = "zh"
    at.run()
    picker = _device_picker(at)
    assert picker.set_value and picker.raw_value.startswith("cpu（")


def test_epochs_take_a_fraction_as_the_command_line_does(runs_dir):
    """Issue 21: fast-cpu's 0.2 epochs (56 % in about 4 s) can be typed in the form, as `--epochs 0.2`."""
    at = open_page("pages/train.py")
    at.selectbox(key="f_preset").set_value("fast-cpu").run()
    assert at.number_input(key="f_epochs").value == 10
    at.number_input(key="f_epochs").set_value(0.2).run()
    assert not at.exception
    assert at.number_input(key="f_epochs").value == 0.2
    assert any("--preset fast-cpu" in c.value and "--epochs 0.2" in c.value for c in at.code)
    assert not [e.value for e in at.error if "Epochs" in e.value]


def preview_labels(at) -> list[str]:
    """The labels under the training-images preview, as the page shows them."""
    (image,) = at.get("image")
    return image.captions[0].split(" · ")


def test_the_preview_is_shuffled_and_decodes_only_what_it_shows(runs_dir, tmp_path):
    """Issue 21: an image folder lists class by class: the preview showed 32 of its first class (airplanes),
    after decoding the whole folder (49 s for CIFAR-10 as images)."""
    write_images(tmp_path / "pics" / "train", ["airplane", "automobile", "bird", "cat"], 30)
    write_images(tmp_path / "pics" / "test", ["airplane", "automobile", "bird", "cat"], 2)
    at = open_page("pages/train.py")
    at.radio(key="f_data").set_value("folder").run()
    at.text_input(key="f_folder").input(str(tmp_path / "pics")).run()
    at.toggle(key="f_preview").set_value(True).run()
    assert not at.exception and not errors(at)
    labels = preview_labels(at)
    assert len(labels) == 32 and len(set(labels)) == 4  # drawn across the classes, not 32 airplanes
    # nothing but the 32 shown was decoded: the whole folder's decode cache was never written
    assert not list((runs_dir.parent / "data").glob("cache/folder-*.pt"))
    at.radio(key="f_data").set_value("synthetic").run()  # a loaded dataset: drawn at random too
    assert len(set(preview_labels(at)[:8])) > 1
