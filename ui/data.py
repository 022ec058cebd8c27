"""Datasets and sample images for the pages, cached so a revisit does not decode again."""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st
import torch
from PIL import Image

from core.data import Dataset, load_dataset
from ui.i18n import _, t
from ui.safe import md


@st.cache_resource(max_entries=2, show_spinner=False)
def cached_dataset(source: str, data_dir: str) -> Dataset:
    """The dataset, loaded once per source and folder, with a progress bar while it loads (the bar's text is
    in the language of whoever loads it first; the dataset itself holds no translated text)."""
    bar = st.progress(0.0, text=t("Loading {source}…", source=md(source)))
    ds = load_dataset(
        source,
        data_dir,
        lambda stage, done, total: bar.progress(
            done / total if total else 0.0,
            text=t("{stage}: {done:,} / {total:,}", stage=_(stage), done=done, total=total),
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
