"""Property-based tests of the image loader: whatever bytes arrive, the result is a uint8 3×32×32 tensor
or the loader's own error (ImageError), never another exception."""

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.images import FITS, ImageError, read_image

# hundreds of generated examples each: `make test` runs them, `make test-fast` does not
pytestmark = pytest.mark.slow


def encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (40, 24)) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


# real files of each format, for mutations that keep a valid header and break what follows
SEEDS = [
    encoded("PNG"),
    encoded("JPEG"),
    encoded("GIF", "P"),
    encoded("BMP"),
    encoded("TIFF", "CMYK"),
    encoded("WEBP"),
    encoded("PNG", "LA"),
    encoded("PNG", "I;16"),
]


@st.composite
def damaged(draw) -> bytes:
    """A real image file with some bytes changed, then maybe cut short."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(8, len(data)))])


def loads_or_refuses(data: bytes, fit: str) -> None:
    try:
        t = read_image(data, "upload", fit)
    except ImageError as e:
        assert str(e).startswith("upload ")
    else:
        assert t.shape == (3, 32, 32) and t.dtype == torch.uint8


@settings(max_examples=300, deadline=None)
@given(damaged(), st.sampled_from(FITS))
def test_damaged_images_load_or_are_refused(data, fit):
    loads_or_refuses(data, fit)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(FITS))
def test_random_bytes_are_refused(data, fit):
    loads_or_refuses(data, fit)
