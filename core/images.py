"""Images from outside (uploads, drawings) → the uint8 3×32×32 tensors the models see.

The same `image_to_tensor` as the image-folder loader, so what the model sees here is what it saw in
training. Files are checked before they are decoded, and decoded small: an absurd size, pixel count or
shape is refused from the header; a large JPEG is decoded at a fraction of its size (`draft`); a large
image is shrunk by whole factors (`reduce`) right after decoding, so nothing after it works on more than
a few thousand pixels and the 32×32 resize never blows a thin strip up to millions of pixels."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.functional import rgb_to_grayscale

from .data import IMAGE_SIZE, image_to_tensor
from .messages import N_, MessageError

MAX_PIXELS = 50_000_000  # a 7k×7k photo is fine; a decompression bomb is not
MAX_SIDE = 20_000  # pixels along one side: a 700,000×1 strip is no photo
MAX_ASPECT = 50  # long side ÷ short side: a 360° panorama is about 10
MAX_FILE_BYTES = 25 * 2**20  # one upload
MAX_FILES = 32  # files read in one go
MAX_TOTAL_BYTES = 100 * 2**20  # all the files read in one go
FITS = ("crop", "resize")
# Shrunk to this many times the model's size before the final resize: enough detail for a smooth result
OVERSAMPLE = 2
# Pillow's decoders meet hostile bytes with many exception types; each means "not a readable image"
DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    Image.DecompressionBombError,
)


class ImageError(MessageError):
    """A file that is not an image, is damaged, or is too large to decode safely."""


def _check_header(image: Image.Image, name: str) -> None:
    """Refuse from the header alone what would take too much memory or make no sense as a picture."""
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(
            N_("{name} has no pixels ({width}×{height})."), name=name, width=width, height=height
        )
    if width * height > MAX_PIXELS:
        raise ImageError(
            N_(
                "{name} is {width:,}×{height:,} pixels; images over {limit:,} pixels are refused before "
                "decoding (a decompression bomb would fill memory)."
            ),
            name=name,
            width=width,
            height=height,
            limit=MAX_PIXELS,
        )
    if max(width, height) > MAX_SIDE:
        raise ImageError(
            N_(
                "{name} is {width:,}×{height:,} pixels; images longer than {limit:,} pixels on a side are "
                "refused before decoding."
            ),
            name=name,
            width=width,
            height=height,
            limit=MAX_SIDE,
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            N_(
                "{name} is {width:,}×{height:,} pixels, a strip more than {limit} times longer than it is "
                "wide, so it is refused before decoding."
            ),
            name=name,
            width=width,
            height=height,
            limit=MAX_ASPECT,
        )


def _decode_small(image: Image.Image, fit: str) -> Image.Image:
    """The first frame, decoded and shrunk by whole factors to about OVERSAMPLE × the model's size.

    "crop" keeps the centre square (the square the final centre crop keeps; orientation does not move
    it), so both axes shrink by the short side's factor; "resize" squashes, so each axis by its own. The
    square is cut after shrinking, so no full-size copy is ever made."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    target = IMAGE_SIZE * OVERSAMPLE
    width, height = image.size
    if image.format == "JPEG":
        # DCT scaling while decoding: a 1/2, 1/4 or 1/8 size image that is still at least `request`
        short = min(width, height)
        request = (target, target) if fit == "resize" else (width * target // short, height * target // short)
        image.draft(image.mode, request)
        width, height = image.size
    if fit == "resize":
        factors = (max(1, width // target), max(1, height // target))
    else:
        factors = (max(1, min(width, height) // target),) * 2
    image.load()
    if factors != (1, 1):
        if image.mode in ("1", "P") or image.mode.startswith("I;16"):
            # modes `reduce` cannot average: to the nearest one it can (palette keeps its transparency)
            image = image.convert(
                "I" if image.mode.startswith("I;16") else "RGBA" if image.mode == "P" else "L"
            )
        image = image.reduce(factors)
    width, height = image.size
    if fit == "crop" and width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    return image


def read_image(data: bytes, name: str = "image", fit: str = "crop") -> torch.Tensor:
    """Bytes of any image file PIL reads → uint8 3×32×32 (first frame, EXIF rotation, any mode)."""
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(
            N_("{name} is {size:.1f} MiB; files over {limit} MiB are refused."),
            name=name,
            size=len(data) / 2**20,
            limit=MAX_FILE_BYTES // 2**20,
        )
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:
        raise ImageError(N_("{name} is too large to decode safely."), name=name) from None
    except (UnidentifiedImageError, *DECODE_ERRORS):
        raise ImageError(
            N_("{name} cannot be read: it is not an image in a supported format (png, jpg, webp…)."),
            name=name,
        ) from None
    _check_header(image, name)
    try:
        return image_to_tensor(_decode_small(image, fit), fit=fit)
    except MemoryError:
        raise ImageError(N_("{name} is too large to decode here."), name=name) from None
    except DECODE_ERRORS as e:
        detail = str(e).splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise ImageError(N_("{name} is damaged or truncated ({detail})."), name=name, detail=detail) from None


def read_images(
    files: Iterable[tuple[str, bytes]], fit: str = "crop"
) -> list[tuple[str, torch.Tensor | ImageError]]:
    """Several uploads, each → its tensor or its ImageError, in order. Past MAX_FILES files or
    MAX_TOTAL_BYTES in all, the rest are refused unread, so one request's memory and time stay bounded."""
    results: list[tuple[str, torch.Tensor | ImageError]] = []
    total = 0
    for count, (name, data) in enumerate(files, start=1):
        total += len(data)
        if count > MAX_FILES:
            refused = ImageError(
                N_("{name} was not read: at most {limit} files at a time."), name=name, limit=MAX_FILES
            )
            results.append((name, refused))
        elif total > MAX_TOTAL_BYTES:
            refused = ImageError(
                N_("{name} was not read: at most {limit} MiB of files at a time."),
                name=name,
                limit=MAX_TOTAL_BYTES // 2**20,
            )
            results.append((name, refused))
        else:
            try:
                results.append((name, read_image(data, name, fit)))
            except ImageError as e:
                results.append((name, e))
    return results


def from_canvas(rgba: np.ndarray, background: tuple[int, int, int] = (255, 255, 255)) -> torch.Tensor:
    """A drawing canvas's H×W×4 RGBA array → uint8 3×32×32, transparent parts showing `background`."""
    image = Image.fromarray(rgba.astype(np.uint8), "RGBA")
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))
    return image_to_tensor(flat, fit="resize")


def model_view(x: torch.Tensor, in_channels: int) -> np.ndarray:
    """What the model gets as a picture: 32×32, grayscale for one-channel models (the tutorial's LeNet)."""
    if in_channels == 1:
        x = rgb_to_grayscale(x, num_output_channels=3)
    return x.permute(1, 2, 0).numpy()
