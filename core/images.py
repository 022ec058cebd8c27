"""Images from outside (uploads, drawings) → the uint8 3×32×32 tensors the models see.

The same `image_to_tensor` as the image-folder loader, so what the model sees here is what it saw in
training. Files are checked before they are decoded: an absurd pixel count is refused from the header."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.functional import rgb_to_grayscale

from .data import image_to_tensor

MAX_PIXELS = 50_000_000  # a 7k×7k photo is fine; a decompression bomb is not
FITS = ("crop", "resize")


class ImageError(ValueError):
    """A file that is not an image, is damaged, or is too large to decode safely."""


def read_image(data: bytes, name: str = "image", fit: str = "crop") -> torch.Tensor:
    """Bytes of any image file PIL reads → uint8 3×32×32 (first frame, EXIF rotation, any mode)."""
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageError(f"{name} is not an image PIL can read.") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name} is too large to decode safely.") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width:,}×{height:,} pixels; images over {MAX_PIXELS:,} pixels are refused "
            "before decoding (a decompression bomb would fill memory)."
        )
    try:
        image.load()
        return image_to_tensor(image, fit=fit)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageError(f"{name} is damaged or truncated ({str(e).splitlines()[0][:120]}).") from None


def from_canvas(rgba: np.ndarray, background: tuple[int, int, int] = (255, 255, 255)) -> torch.Tensor:
    """A drawing canvas's H×W×4 RGBA array → uint8 3×32×32, transparent parts showing `background`."""
    image = Image.fromarray(rgba.astype(np.uint8), "RGBA")
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))
    return image_to_tensor(flat, fit="resize")


def model_view(x: torch.Tensor, in_channels: int) -> np.ndarray:
    """What the model gets, as a picture: 32×32, in grayscale for a one-channel model (the tutorial's LeNet)."""
    if in_channels == 1:
        x = rgb_to_grayscale(x, num_output_channels=3)
    return x.permute(1, 2, 0).numpy()
