import hashlib
import http.server
import inspect
import threading

import pytest
import torch

import core.data
from core.data import (
    SYNTHETIC_CLASSES,
    DataError,
    augment,
    available_datasets,
    download_file,
    load_cifar10,
    load_dataset,
    load_image_folder,
    make_synthetic,
    to_model_input,
)
from tests.generated import fake_cifar, write_images


def test_synthetic_is_uint8_balanced_and_reproducible():
    a, b = make_synthetic(200, 50, seed=3), make_synthetic(200, 50, seed=3)
    assert a.train_x.shape == (200, 3, 32, 32) and a.train_x.dtype == torch.uint8
    assert a.test_x.shape == (50, 3, 32, 32) and a.classes == SYNTHETIC_CLASSES
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.train_y, b.train_y)
    assert torch.bincount(a.train_y).tolist() == [20] * 10
    assert not torch.equal(a.train_x, make_synthetic(200, 50, seed=4).train_x)


def test_synthetic_classes_differ_in_shape_not_just_noise():
    d = make_synthetic(1000, 10)
    # the images of one class agree with each other more than with another class (mean edge pattern)
    edges = (d.train_x.float().diff(dim=3).abs().mean(dim=(1, 2)) > 20).float()  # N×31 column edge profile
    per_class = torch.stack([edges[d.train_y == k].mean(0) for k in range(10)])
    assert per_class.std(0).mean() > 0.05


def test_the_demo_set_is_drawn_once_per_data_folder_and_read_back_after(tmp_path, demo_set):
    first = load_dataset("synthetic", tmp_path)
    (cache,) = (tmp_path / "cache").glob("synthetic-*.pt")
    keys = ("train_x", "train_y", "test_x", "test_y")
    assert all(torch.equal(getattr(first, k), getattr(demo_set, k)) for k in keys)
    # what the cache holds is what the next run trains on: a pixel changed in the file shows up
    held = torch.load(cache, weights_only=True)
    held["train_x"][0, 0, 0, 0] ^= 0xFF
    torch.save(held, cache)
    assert load_dataset("synthetic", tmp_path).train_x[0, 0, 0, 0] == demo_set.train_x[0, 0, 0, 0] ^ 0xFF
    # a damaged or foreign file is drawn again and replaced, never trained on
    foreign = {
        "junk": b"not a tensor file",
        "too few images": {**held, "train_x": held["train_x"][:10]},
        "a label past the last class": {**held, "test_y": held["test_y"] + 5},
    }
    for content in foreign.values():
        if isinstance(content, bytes):
            cache.write_bytes(content)
        else:
            torch.save(content, cache)
        again = load_dataset("synthetic", tmp_path)
        assert torch.equal(again.train_x, demo_set.train_x) and torch.equal(again.test_y, demo_set.test_y)
        assert torch.equal(torch.load(cache, weights_only=True)["test_y"], demo_set.test_y)


def test_a_demo_set_drawn_by_older_code_is_removed_once_a_new_one_is_saved(tmp_path):
    old = tmp_path / "cache" / "synthetic-0123456789abcdef.pt"
    old.parent.mkdir()
    old.write_bytes(b"a set an older Blitz Lab drew")
    load_dataset("synthetic", tmp_path)
    (kept,) = (tmp_path / "cache").glob("synthetic-*.pt")
    assert kept != old and not old.exists()


def test_the_demo_set_needs_no_writable_cache(tmp_path, demo_set):
    (tmp_path / "cache").write_text("a file where the cache folder would be")
    ds = load_dataset("synthetic", tmp_path)
    assert torch.equal(ds.test_x, demo_set.test_x)
    assert (tmp_path / "cache").read_text() == "a file where the cache folder would be"


def test_without_its_source_the_demo_set_is_drawn_and_not_cached(tmp_path, monkeypatch, demo_set):
    """An install without .py files (a frozen app): no digest of the drawing code, so no cache is trusted."""

    def no_source(obj):
        raise OSError("could not get source code")

    monkeypatch.setattr(inspect, "getsource", no_source)
    core.data._synthetic_fingerprint.cache_clear()
    try:
        ds = load_dataset("synthetic", tmp_path)
    finally:
        core.data._synthetic_fingerprint.cache_clear()
    assert torch.equal(ds.train_x, demo_set.train_x) and not (tmp_path / "cache").exists()


def test_to_model_input_applies_the_seeds_normalisation_and_grayscale():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 2, 2)
    out = to_model_input(x, 3)
    assert torch.allclose(out[0], torch.full((3, 2, 2), -1.0)) and torch.allclose(out[1], torch.ones(3, 2, 2))
    gray = to_model_input(x, 1)
    assert gray.shape == (2, 1, 2, 2) and torch.allclose(gray[1], torch.ones(1, 2, 2), atol=1e-2)


def test_augment_flips_whole_batches_and_crops_within_the_padding():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    assert torch.equal(augment(x, flip=False, crop_pad=0), x)
    g = torch.Generator().manual_seed(0)
    flipped = augment(x, flip=True, crop_pad=0, g=g)
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(2))
    cropped = augment(x, flip=False, crop_pad=2, g=g)
    assert cropped.shape == x.shape
    # a shift by (dy, dx) keeps the interior: some 28×28 window of the input appears in the output
    for i in range(2):
        found = any(
            torch.equal(cropped[i, :, 2:30, 2:30], x[i, :, 2 + dy : 30 + dy, 2 + dx : 30 + dx])
            for dy in range(-2, 3)
            for dx in range(-2, 3)
        )
        assert found


def test_augmenting_uint8_images_then_normalising_equals_the_other_order_bit_for_bit():
    """The engine augments uint8 images before normalising them (fewer bytes to move); the batches must be
    exactly those of normalising first, which the recipe's exported code once did (grayscale models too)."""
    images = torch.randint(
        0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    for channels, flip, crop_pad in ((3, True, 0), (3, False, 3), (3, True, 2), (3, True, 8), (1, True, 2)):
        g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
        after = augment(to_model_input(images, channels, mean, std), flip, crop_pad, g1)
        before = to_model_input(augment(images, flip, crop_pad, g2), channels, mean, std)
        assert before.dtype == torch.float32 and before.shape[1] == channels and torch.equal(before, after)
        assert not torch.equal(before, to_model_input(images, channels, mean, std))  # it did augment


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "pets"
    write_images(root / "train", ["cat", "dog"], 4)
    write_images(root / "test", ["cat", "dog"], 2, size=(32, 32), mode="L", ext="jpg")
    return root


def test_image_folder_loads_any_size_and_mode_as_32x32_rgb(image_folder, tmp_path):
    ds = load_image_folder(image_folder, cache_dir=tmp_path / "cache")
    assert ds.classes == ["cat", "dog"] and ds.name == "pets"
    assert ds.train_x.shape == (8, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # the cache is used the second time, and holds the same tensors
    assert len(list((tmp_path / "cache").glob("folder-*.pt"))) == 1
    again = load_image_folder(image_folder, cache_dir=tmp_path / "cache")
    assert torch.equal(again.train_x, ds.train_x)
    # a changed folder is not served from the stale cache
    write_images(image_folder / "train", ["cat"], 5)
    assert len(load_image_folder(image_folder, cache_dir=tmp_path / "cache").train_y) == 9


def test_image_folder_skips_and_reports_unreadable_files(image_folder):
    (image_folder / "train" / "cat" / "broken.png").write_bytes(b"not a png")
    ds = load_image_folder(image_folder)
    assert len(ds.train_y) == 8 and len(ds.skipped) == 1 and "broken.png" in ds.skipped[0]


def test_missing_folder_says_what_is_expected(tmp_path):
    with pytest.raises(DataError, match="does not exist.*train/<class>"):
        load_dataset(str(tmp_path / "nope"))


def test_folder_without_test_split_is_named(tmp_path):
    write_images(tmp_path / "x" / "train", ["a"], 1)
    with pytest.raises(DataError, match="not in ImageFolder layout: no test folder"):
        load_image_folder(tmp_path / "x")


def test_empty_class_folder_is_named(image_folder):
    (image_folder / "train" / "bird").mkdir()
    with pytest.raises(DataError, match="bird"):
        load_image_folder(image_folder)


def test_train_and_test_classes_must_match(image_folder):
    write_images(image_folder / "test", ["emu"], 1)
    with pytest.raises(DataError, match="same class folders"):
        load_image_folder(image_folder)


def test_cifar10_batches_are_read_through_torchvision_when_unverified(tmp_path):
    fake_cifar(tmp_path)
    ds = load_cifar10(tmp_path, verify=False)
    assert ds.train_x.shape == (100, 3, 32, 32) and ds.test_x.shape == (20, 3, 32, 32)
    assert ds.classes[0] == "airplane" and ds.train_y[:3].tolist() == [0, 1, 2]
    # not the official bytes: Home says so, as the Train form does (issue 21: it said "ready")
    (row,) = [r for r in available_datasets(tmp_path) if r["dataset"] == "cifar10"]
    assert row["status"] == "not the official copy" and row["detail"].own_data == str(
        tmp_path / "cifar-10-batches-py"
    )


def test_cifar10_checksum_mismatch_is_reported_honestly(tmp_path):
    fake_cifar(tmp_path)
    with pytest.raises(DataError, match="official checksums"):
        load_cifar10(tmp_path)


def test_offline_cifar10_says_how_to_place_the_archive_by_hand(tmp_path):
    with pytest.raises(DataError) as e:
        load_cifar10(tmp_path / "d", url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    msg = str(e.value)
    assert "Could not download CIFAR-10" in msg and str(tmp_path / "d" / "cifar-10-python.tar.gz") in msg
    assert not list((tmp_path / "d").iterdir())  # no partial file left behind


def test_a_placed_archive_with_the_wrong_md5_is_refused_without_downloading(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"junk")
    with pytest.raises(DataError, match="md5 differs"):
        load_cifar10(tmp_path)


def test_download_reports_progress_from_a_local_server(tmp_path):
    payload = bytes(range(256)) * 10_000  # 2.5 MB
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "file.bin").write_bytes(payload)
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "srv"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen = []
    try:
        download_file(
            f"http://127.0.0.1:{server.server_port}/file.bin",
            tmp_path / "out.bin",
            lambda stage, done, total: seen.append((stage, done, total)),
        )
    finally:
        server.shutdown()
    assert hashlib.md5((tmp_path / "out.bin").read_bytes()).digest() == hashlib.md5(payload).digest()
    assert seen[-1] == ("download", len(payload), len(payload)) and len(seen) >= 2


def test_data_messages_keep_their_english_and_carry_a_template_to_translate(tmp_path):
    (tmp_path / "pics" / "train").mkdir(parents=True)
    with pytest.raises(DataError) as e:
        load_image_folder(tmp_path / "pics")
    assert str(e.value).startswith(
        f"{tmp_path / 'pics'} is not in ImageFolder layout: no test folder (found: train)"
    )
    assert e.value.template.startswith("{root} is not in ImageFolder layout")
    rows = {row["dataset"]: row for row in available_datasets(tmp_path / "empty")}
    assert rows["cifar10"]["status"] == "not downloaded"
    assert rows["cifar10"]["detail"].template == "downloads about 163 MB into {folder} on first use"
