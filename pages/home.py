"""Home: what each part of the tutorial becomes here, and what this machine has ready."""

import pandas as pd
import streamlit as st
import torch
import torchvision

from core.data import available_datasets
from core.devices import list_devices
from core.paths import data_dir, runs_dir
from core.runs import RunStore, run_row
from ui import through_navigation

through_navigation()

st.title("🔥 Blitz Lab")
st.markdown(
    "PyTorch's *Deep Learning with PyTorch: A 60 Minute Blitz*, made interactive: "
    "tensors, autograd, neural networks, training a CIFAR-10 classifier, and training on a GPU."
)

st.subheader("What the tutorial teaches, and where")
st.dataframe(
    pd.DataFrame(
        [
            {
                "tutorial section": "1 · Tensors",
                "you learn": "creating tensors, attributes, operations, the numpy bridge",
                "here": "Tensors: create, inspect, operate, numpy bridge, a safe expression box",
            },
            {
                "tutorial section": "2 · Autograd",
                "you learn": "computation graphs, backward(), gradients",
                "here": "Autograd: an expression's grad_fn graph, backward vs finite differences, gradient descent",
            },
            {
                "tutorial section": "3 · Neural networks",
                "you learn": "nn.Module, forward, loss, backprop, weight updates",
                "here": "Train: the model picker shows print(net) and parameter counts",
            },
            {
                "tutorial section": "4 · Training a classifier",
                "you learn": "CIFAR-10 data, the Net, the training loop",
                "here": "Train: start, watch, stop, compare runs · Report: per class · Classify: draw or upload",
            },
            {
                "tutorial section": "5 · Training on GPU",
                "you learn": "torch.device, moving the model and batches",
                "here": "Train: the device picker",
            },
        ]
    ),
    hide_index=True,
    width="stretch",
)
st.page_link("pages/tensors.py", label="Play with tensors →", icon="🧊")
st.page_link("pages/autograd.py", label="See autograd work →", icon="🔁")
st.page_link("pages/train.py", label="Train a classifier →", icon="🏋️")
st.page_link("pages/report.py", label="How good is it, per class? →", icon="📊")
st.page_link("pages/classify.py", label="Draw or upload, and ask the model →", icon="🎨")
st.markdown("The same engine runs from a terminal:")
st.code(
    "python -m core.train --data synthetic --preset tutorial --epochs 1\n"
    "python -m core.train --data cifar10 --preset tutorial      # the tutorial's exact recipe\n"
    "python -m core.evaluate <run-id>                            # per-class report",
    language="bash",
)

left, right = st.columns(2)
with left:
    st.subheader("This machine")
    st.markdown(f"torch **{torch.__version__}** · torchvision **{torchvision.__version__}**")
    st.dataframe(
        pd.DataFrame([{"device": d.name, "details": d.label} for d in list_devices()]),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "The tutorial's choice: `device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')`"
    )
with right:
    st.subheader("Datasets")
    st.dataframe(pd.DataFrame(available_datasets(data_dir())), hide_index=True, width="stretch")

st.subheader("Recent runs")
runs = RunStore(runs_dir()).list()[:10]
if runs:
    st.dataframe(pd.DataFrame([run_row(r) for r in runs]), hide_index=True, width="stretch")
else:
    st.info(
        f"No runs yet in `{runs_dir()}`. Start one on the Train page, or from a terminal: "
        "`python -m core.train --data synthetic --epochs 1`."
    )
