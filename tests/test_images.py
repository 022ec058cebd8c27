"""Preprocessing of uploaded and drawn images: every mode, and the files that must be refused."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from core.images import ImageError, from_canvas, read_image


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
        (b"hello, not an image", "is not an image"),
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


def test_a_decompression_bomb_is_refused_from_its_header():
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)  # 10 gigapixels, 1 byte each
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(ImageError, match="refused before decoding|too large"):
        read_image(bomb, "bomb.png")


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
        assert [m[0].split(" ·")[0] for m in maps] == ["conv1", "conv2"] and "6 maps of 28×28" in maps[0][0]
        heat = saliency(model, x, channels)
        assert heat.shape == (32, 32, 3) and heat.dtype == torch.uint8
        assert all(p.grad is None for p in model.parameters())  # the model is left as it was
