"""Preprocessing of uploaded and drawn images: every mode, and the files that must be refused."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import core.images
from core.images import MAX_FILES, ImageError, from_canvas, read_image, read_images
from tests.memory import peak_mib


def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "image, fmt",
    [
        (Image.new("RGB", (64, 48), (200, 10, 10)), "PNG"),
        (Image.new("RGB", (40, 40), (200, 10, 10)), "JPEG"),
        (Image.new("RGBA", (32, 32), (200, 10, 10, 255)), "PNG"),
        (Image.new("LA", (32, 32), (120, 255)), "PNG"),
        (Image.new("L", (50, 20), 120), "BMP"),
        (Image.new("RGB", (32, 32), (200, 10, 10)).convert("P"), "GIF"),
        (Image.new("CMYK", (32, 32), (0, 200, 200, 0)), "TIFF"),
        (Image.new("I;16", (32, 32), 40000), "PNG"),
        (Image.new("RGB", (33, 31), (200, 10, 10)), "WEBP"),
    ],
)
def test_every_mode_becomes_uint8_3x32x32(image, fmt):
    t = read_image(encode(image, fmt), "x")
    assert t.shape == (3, 32, 32) and t.dtype == torch.uint8


def test_transparency_is_composited_on_white():
    t = read_image(encode(Image.new("RGBA", (32, 32), (0, 0, 0, 0))))
    assert t.min() == 255


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (64, 32), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 32, 32))  # left half blue, right half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    t = read_image(encode(image, "JPEG", exif=exif.tobytes()), fit="resize")
    top, bottom = t[:, 2, 16], t[:, 29, 16]
    assert top[2] > 200 and bottom[0] > 200  # blue ends up on top, red below


def test_an_animated_gif_uses_its_first_frame():
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    t = read_image(buffer.getvalue())
    assert t[0].float().mean() > 200 and t[2].float().mean() < 50


def test_crop_keeps_the_aspect_and_resize_squashes():
    image = Image.new("RGB", (96, 32), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 32, 32))  # white only in the left third
    assert read_image(encode(image), fit="crop").float().mean() < 10  # the centre crop misses it
    assert read_image(encode(image), fit="resize").float().mean() > 60


@pytest.mark.parametrize(
    "data, message",
    [
        (b"hello, not an image", "not an image in a supported format"),
        (
            encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))[
                :2000
            ],
            "damaged or truncated",
        ),
    ],
)
def test_bad_files_are_refused_with_their_name(data, message):
    with pytest.raises(ImageError, match=message) as e:
        read_image(data, "holiday.png")
    assert "holiday.png" in str(e.value)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width×height 8-bit gray pixels and holds none: only its header can be trusted."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_header_only(100_000, 100_000)  # 10 gigapixels, 1 byte each
    with pytest.raises(ImageError, match="refused before decoding|too large"):
        read_image(bomb, "bomb.png")


@pytest.mark.parametrize(
    "width, height, message",
    [
        (20_000_000, 1, "longer than 20,000 pixels on a side"),  # 20 megapixels, 1 pixel high
        (700_000, 1, "longer than 20,000 pixels on a side"),
        (1, 700_000, "longer than 20,000 pixels on a side"),
        (10_000, 100, "more than 50 times longer than it is wide"),
    ],
)
def test_strips_are_refused_from_their_header(width, height, message):
    with pytest.raises(ImageError, match=message):
        read_image(png_header_only(width, height), "strip.png")


def test_a_strip_within_the_limits_is_read_without_blowing_up():
    strip = Image.new("RGB", (5000, 100), (0, 0, 255))
    assert read_image(encode(strip), fit="crop").float().mean() == pytest.approx(85, abs=1)
    assert read_image(encode(strip), fit="resize")[2].min() == 255


def peak_mib_reading(path: Path, fit: str = "crop") -> int:
    """MiB by which reading the image file at `path` raises a fresh interpreter's resident memory."""
    setup = f"from core.images import read_image\ndata = open({str(path)!r}, 'rb').read()"
    return peak_mib(setup, f"read_image(data, 'big', {fit!r})")


@pytest.mark.slow
def test_a_large_jpeg_is_decoded_small(tmp_path):
    # 6000×4000 RGB is 72 MB decoded; `draft` decodes it at 1/8 scale straight away
    path = tmp_path / "big.jpg"
    noise = np.random.default_rng(0).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    Image.fromarray(noise).resize((6000, 4000)).save(path, "JPEG", quality=80)
    assert peak_mib_reading(path) < 30


@pytest.mark.slow
def test_a_large_png_is_reduced_right_after_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (6000, 4000), (10, 200, 10)).save(path, compress_level=1)  # quick to write, same pixels
    # the decoded picture (72 MB) and small copies of it: no full-size copy, nothing blown up
    assert peak_mib_reading(path) < 120 and peak_mib_reading(path, "resize") < 120


def test_exif_rotation_survives_decoding_small():
    image = Image.new("RGB", (1280, 640), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 640, 640))  # left half blue, right half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    for fmt in ("JPEG", "PNG"):
        t = read_image(encode(image, fmt, exif=exif.tobytes()), fit="resize")
        assert t[2, 2, 16] > 200 and t[0, 29, 16] > 200, fmt  # blue on top, red below


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (800, 800), (200, 10, 10)).convert("P"),
        Image.new("I;16", (800, 600), 40000),
        Image.new("1", (800, 600), 1),
        Image.new("LA", (900, 300), (120, 255)),
        Image.new("CMYK", (700, 700), (0, 200, 200, 0)),
    ],
)
def test_large_images_of_every_mode_are_reduced(image):
    fmt = "TIFF" if image.mode == "CMYK" else "PNG"
    t = read_image(encode(image, fmt))
    assert t.shape == (3, 32, 32) and t.dtype == torch.uint8


def test_a_truncated_jpeg_is_refused():
    data = encode(
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8)), "JPEG"
    )
    with pytest.raises(ImageError, match="damaged or truncated"):
        read_image(data[: len(data) // 2], "half.jpg")


def test_an_animated_webp_uses_its_first_frame():
    frames = [Image.new("RGB", (64, 64), c) for c in ((0, 0, 255), (255, 0, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    t = read_image(buffer.getvalue())
    assert t[2].float().mean() > 200 and t[0].float().mean() < 50


def test_uploads_are_limited_per_file_and_per_batch(monkeypatch):
    small = encode(Image.new("RGB", (40, 40), (1, 2, 3)))
    monkeypatch.setattr(core.images, "MAX_FILE_BYTES", len(small) - 1)
    with pytest.raises(ImageError, match="MiB are refused"):
        read_image(small, "big.png")
    monkeypatch.setattr(core.images, "MAX_FILE_BYTES", 10 * len(small))
    results = read_images([(f"{i}.png", small) for i in range(MAX_FILES + 2)])
    assert all(isinstance(r, torch.Tensor) for _, r in results[:MAX_FILES])
    assert [str(r) for _, r in results[MAX_FILES:]] == [
        f"{n}.png was not read: at most {MAX_FILES} files at a time." for n in (MAX_FILES, MAX_FILES + 1)
    ]
    monkeypatch.setattr(core.images, "MAX_TOTAL_BYTES", 2 * len(small))
    assert [type(r).__name__ for _, r in read_images([("a", small)] * 3)] == [
        "Tensor",
        "Tensor",
        "ImageError",
    ]


def test_a_canvas_drawing_becomes_a_model_input():
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[100:180, 100:180] = (255, 0, 0, 255)  # a red square on a transparent canvas
    t = from_canvas(rgba)
    assert (
        t.shape == (3, 32, 32) and tuple(t[:, 16, 16]) == (255, 0, 0) and tuple(t[:, 1, 1]) == (255, 255, 255)
    )


def test_what_the_network_sees():
    from core.insight import feature_maps, first_layer_filters, saliency
    from core.models import build_model

    x = read_image(encode(Image.new("RGB", (32, 32), (200, 10, 10))))
    for name, channels in (("tutorial", 3), ("lenet", 1)):
        model = build_model(name)
        grid = first_layer_filters(model)
        assert grid.dtype == torch.uint8 and grid.shape[-1] == 3
        maps = feature_maps(model, x, channels)
        assert [m.layer for m in maps] == ["conv1", "conv2"] and maps[0][1:4] == (6, 28, 28)
        heat = saliency(model, x, channels)
        assert heat.shape == (32, 32, 3) and heat.dtype == torch.uint8
        assert all(p.grad is None for p in model.parameters())  # the model is left as it was
