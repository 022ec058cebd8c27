"""Knowing before Start whether CIFAR-10 can be had: the download probe (fast, cached) and the checks of a
copy on disk or typed in (md5, layout, names), with generated files."""

import http.server
import tarfile
import threading
import time
from pathlib import Path

import pytest

from core import cifar
from core.cifar import (
    ARCHIVE,
    ARCHIVE_MD5,
    FOLDER,
    CifarError,
    Source,
    can_download,
    cifar_problem,
    md5_of,
    resolve_copy,
)
from core.config import make_config
from core.validate import run_problems
from tests.generated import fake_cifar, write_images

DEAD = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # the discard port: nothing listens there


@pytest.fixture
def server():
    """A local HTTP server: a reachable download host."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def fresh_probes():
    """Each test probes afresh (answers are kept per process)."""
    cifar._probes.clear()
    yield
    cifar._probes.clear()


def batches_md5s(folder: Path) -> dict[str, str]:
    """The md5s of a generated copy, standing in for the official ones."""
    return {name: md5_of(folder / name) for name in cifar.BATCH_MD5}


def make_archive(path: Path, source: Path) -> Path:
    """A real cifar-10-python.tar.gz layout (holding a generated copy), whose md5 is not the official one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source / FOLDER, arcname=FOLDER)
    return path


def test_a_dead_host_is_known_within_the_timeout_and_the_answer_is_kept():
    started = time.monotonic()
    assert can_download(DEAD) is False
    assert time.monotonic() - started <= cifar.PROBE_TIMEOUT
    assert DEAD in cifar._probes


def test_an_unresolvable_host_fails_within_the_timeout():
    started = time.monotonic()
    assert can_download("https://blitzlab-no-such-host.invalid/cifar-10-python.tar.gz", timeout=1.0) is False
    assert time.monotonic() - started < 1.5


def test_a_reachable_host_is_remembered_after_it_goes_away(server):
    url = f"http://127.0.0.1:{server.server_port}/{ARCHIVE}"
    assert can_download(url) is True
    server.shutdown()
    server.server_close()
    assert can_download(url) is True  # cached: the form's reruns never wait on the network
    cifar._probes.clear()
    assert can_download(url) is False


def test_offline_without_a_copy_says_how_to_install_it_by_hand(tmp_path):
    problem = cifar_problem(tmp_path / "data", url=DEAD)
    assert isinstance(problem, CifarError)
    text = str(problem)
    assert "cannot be downloaded from here (127.0.0.1 does not answer)" in text
    assert str(tmp_path / "data" / ARCHIVE) in text and "To install it by hand" in text


def test_a_reachable_host_is_enough_when_nothing_is_on_disk(tmp_path, server):
    assert cifar_problem(tmp_path, url=f"http://127.0.0.1:{server.server_port}/{ARCHIVE}") is None


def test_an_archive_in_the_data_folder_with_a_wrong_md5_is_refused(tmp_path):
    fake_cifar(tmp_path / "src")
    make_archive(tmp_path / "data" / ARCHIVE, tmp_path / "src")
    problem = cifar_problem(tmp_path / "data", url=DEAD)
    assert problem is not None and f"is not the official {ARCHIVE}" in str(problem)
    assert ARCHIVE_MD5 in str(problem)


def test_an_unpacked_copy_is_checked_file_by_file(tmp_path):
    fake_cifar(tmp_path)
    md5s = batches_md5s(tmp_path / FOLDER)
    assert cifar_problem(tmp_path, url=DEAD, batch_md5s=md5s) is None
    # the generated files are not the official release
    assert "is not the official CIFAR-10" in str(cifar_problem(tmp_path, url=DEAD))
    (tmp_path / FOLDER / "test_batch").unlink()
    assert "test_batch missing" in str(cifar_problem(tmp_path, url=DEAD, batch_md5s=md5s))


def test_a_typed_path_that_does_not_exist(tmp_path):
    with pytest.raises(CifarError, match="does not exist"):
        resolve_copy(str(tmp_path / "nowhere"))


def test_a_typed_archive_with_a_wrong_md5_names_both_md5s(tmp_path):
    (tmp_path / ARCHIVE).write_bytes(b"not a tarball")
    with pytest.raises(CifarError) as e:
        resolve_copy(str(tmp_path / ARCHIVE))
    assert f"is not the official {ARCHIVE}" in str(e.value) and ARCHIVE_MD5 in str(e.value)


def test_a_typed_archive_that_is_official_is_used_where_it_lies(tmp_path):
    fake_cifar(tmp_path / "src")
    archive = make_archive(tmp_path / "dl" / ARCHIVE, tmp_path / "src")
    assert resolve_copy(str(archive), archive_md5=md5_of(archive)) == Source("cifar10", str(tmp_path / "dl"))
    # a renamed official archive: torchvision looks for the official name
    renamed = archive.rename(tmp_path / "dl" / "cifar (1).tar.gz")
    with pytest.raises(CifarError, match=f"rename it to {ARCHIVE}"):
        resolve_copy(str(renamed), archive_md5=md5_of(renamed))


def test_a_typed_batches_folder_or_the_folder_holding_it(tmp_path):
    fake_cifar(tmp_path / "mine")
    md5s = batches_md5s(tmp_path / "mine" / FOLDER)
    expected = Source("cifar10", str(tmp_path / "mine"))
    assert resolve_copy(str(tmp_path / "mine" / FOLDER), batch_md5s=md5s) == expected
    assert resolve_copy(str(tmp_path / "mine"), batch_md5s=md5s) == expected
    with pytest.raises(CifarError, match="is not the official CIFAR-10"):
        resolve_copy(str(tmp_path / "mine" / FOLDER))


def test_a_typed_image_folder_is_used_as_a_folder(tmp_path):
    write_images(tmp_path / "cifar-jpeg" / "train", ["cat", "dog"], 2)
    write_images(tmp_path / "cifar-jpeg" / "test", ["cat", "dog"], 1)
    assert resolve_copy(f" {tmp_path / 'cifar-jpeg'} ") == Source(str(tmp_path / "cifar-jpeg"))


def test_a_folder_of_the_wrong_layout_says_what_was_expected(tmp_path):
    (tmp_path / "photos" / "holiday").mkdir(parents=True)
    with pytest.raises(CifarError) as e:
        resolve_copy(str(tmp_path / "photos"))
    assert f"holds neither CIFAR-10 ({FOLDER} or {ARCHIVE}) nor an image folder" in str(e.value)


def test_the_cli_and_the_form_share_the_refusal(tmp_path, monkeypatch):
    """core.validate.run_problems, which both call, refuses CIFAR-10 that cannot arrive: no run is created."""
    monkeypatch.setenv(cifar.URL_ENV, DEAD)
    problems = run_problems(make_config(data="cifar10", data_dir=str(tmp_path), device="cpu"))
    assert isinstance(problems["data"], CifarError) and "cannot be downloaded" in str(problems["data"])


def test_the_release_facts_are_torchvisions():
    # written out so that asking where CIFAR-10 is does not import torchvision; they must stay its own
    from torchvision.datasets import CIFAR10

    assert (cifar.URL, ARCHIVE, FOLDER, ARCHIVE_MD5) == (
        CIFAR10.url,
        CIFAR10.filename,
        CIFAR10.base_folder,
        CIFAR10.tgz_md5,
    )
    official = dict(CIFAR10.train_list + CIFAR10.test_list) | {CIFAR10.meta["filename"]: CIFAR10.meta["md5"]}
    assert cifar.BATCH_MD5 == official


def test_a_copy_that_is_not_official_is_one_verdict_and_trains_as_own_data(tmp_path, monkeypatch):
    """Issue 21: Home said "ready" while Train refused the same files (md5) and said to unpack an archive
    the learner never had. One verdict (core.cifar.copy_problem) for both, and its way forward works: the
    files, read as they are, train as the learner's own data from the command line's --data too."""
    from core.data import available_datasets, load_dataset

    monkeypatch.setenv(cifar.URL_ENV, DEAD)
    fake_cifar(tmp_path)
    refused = run_problems(make_config(data="cifar10", data_dir=str(tmp_path), device="cpu"))["data"]
    (home,) = [r for r in available_datasets(tmp_path) if r["dataset"] == "cifar10"]
    assert home["status"] == "not the official copy" and str(home["detail"]) == str(refused)
    assert "unpack" not in str(refused) and refused.own_data == str(tmp_path / FOLDER)
    own = make_config(data=refused.own_data, batch_size=4, device="cpu")
    assert run_problems(own) == {}
    ds = load_dataset(refused.own_data)
    assert ds.name == FOLDER and ds.classes[0] == "airplane"
    assert ds.train_x.shape == (100, 3, 32, 32) and ds.test_x.shape == (20, 3, 32, 32)
    # not CIFAR-10's layout at all: no such offer
    (tmp_path / FOLDER / "batches.meta").write_bytes(b"text, not a pickle")
    assert cifar_problem(tmp_path, url=DEAD).own_data is None
