"""Datasets and sample images for the pages, cached so a revisit does not decode again."""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st
import torch
from PIL import Image

from core.data import Dataset, load_dataset


@st.cache_resource(max_entries=2, show_spinner=False)
def cached_dataset(source: str, data_dir: str) -> Dataset:
    bar = st.progress(0.0, text=f"Loading {source}…")
    ds = load_dataset(
        source,
        data_dir,
        lambda stage, done, total: bar.progress(
            done / total if total else 0.0, text=f"{stage}: {done:,} / {total:,}"
        ),
    )
    bar.empty()
    return ds


@st.cache_data(max_entries=32, show_spinner=False)
def run_samples(path: str, mtime: float) -> dict:
    """A run's fixed sample test images (samples.pt) as PNG bytes, encoded once, not every refresh;
    keyed by mtime so a rewritten file is picked up."""
    samples = torch.load(Path(path), weights_only=True)
    pngs = []
    for image in samples["images"]:
        buffer = io.BytesIO()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return {"png": pngs, "labels": samples["labels"], "classes": samples["classes"]}
