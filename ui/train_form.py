"""The "new run" form: data, model, recipe (preset + editable values) and device → a TrainConfig.

Its values are checked by core.validate, the same function the CLI uses, and Start stays disabled with
the reasons shown. The number inputs have no min/max of their own: a browser refuses to send a value
outside them and the old value would stay (and start); here every typed value arrives and is judged."""

from __future__ import annotations

import streamlit as st

from core import jobs
from core.config import AMP, PRESETS, TrainConfig, cli_command, make_config
from core.data import DataError, preview_grid
from core.devices import default_device, list_devices
from core.distributed import DDP_DEVICE
from core.models import MODELS, build_model, get_model_spec
from core.optim import OPTIMIZERS, SCHEDULES
from core.paths import data_dir
from core.runs import RunStore
from core.validate import data_size, run_problems
from ui.data import cached_dataset
from ui.i18n import _, error_text
from ui.safe import md

DATA_LABELS = {
    "synthetic": "Demo shapes (generated, no download)",
    "cifar10": "CIFAR-10 (downloads 163 MB once)",
    "folder": "My image folder (train/<class>/…, test/<class>/…)",
}
KEEP = {"persist_state": "session"}  # the form keeps its values when the user visits another page
RECIPE_FIELDS = (
    "model",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "label_smoothing",
    "norm_bias_lr_scale",
    "flip",
    "crop_pad",
    "tta",
    "amp",
    "channels_last",
)


def _apply_preset() -> None:
    """Copy the chosen preset's values into the form's widgets (the user can then edit them)."""
    preset = st.session_state["f_preset"]
    cfg = make_config(preset if preset in PRESETS else None)
    for name in RECIPE_FIELDS:
        st.session_state[f"f_{name}"] = getattr(cfg, name)


def use_demo_data() -> None:
    st.session_state["f_data"] = "synthetic"


def _init() -> None:
    if "f_preset" in st.session_state:
        return
    st.session_state["f_preset"] = "tutorial"
    st.session_state["f_data"] = "synthetic"
    st.session_state["f_folder"] = ""
    st.session_state["f_seed"] = 0
    st.session_state["f_device"] = default_device()
    _apply_preset()


@st.cache_resource(ttl=5, max_entries=16, show_spinner=False)
def _data_check(source: str) -> int | DataError:
    """The training set's size or why the source cannot load (scanning a folder takes a while: cached for
    a few seconds, so the form's reruns don't repeat it, while a fixed folder is seen again soon)."""
    try:
        return data_size(source)
    except DataError as e:
        return e


def _data_section() -> tuple[str, int | None, list[str]]:
    source = st.radio(
        "Data", list(DATA_LABELS), format_func=DATA_LABELS.get, key="f_data", **KEEP, horizontal=True
    )
    problems = []
    if source == "folder":
        path = st.text_input("Folder path", key="f_folder", **KEEP, placeholder="/home/me/pets")
        source = path.strip()
        if not source:
            problems.append("Enter the path of your image folder.")
    size = None
    if source:
        checked = _data_check(source)
        if isinstance(checked, DataError):
            problems.append(error_text(checked))
        else:
            size = checked
            st.caption(f"{size:,} training images.")
    if source and not problems and st.toggle("Preview training images", key="f_preview", **KEEP):
        try:
            grid, labels = preview_grid(cached_dataset(source, str(data_dir())))
            st.image(grid.numpy(), caption=" · ".join(labels), width=520)
        except DataError as e:
            st.error(md(error_text(e)))
            if source == "cifar10":
                st.button("Use the demo data instead", on_click=use_demo_data)
    return source, size, problems


def _model_section() -> None:
    name = st.selectbox(
        "Model",
        list(MODELS),
        key="f_model",
        **KEEP,
        format_func=lambda n: f"{n} · {get_model_spec(n).parameter_count():,} parameters",
    )
    spec = get_model_spec(name)
    st.caption(f"{spec.description} Input {spec.input_shape[0]}×32×32.")
    with st.expander("print(net)"):
        st.code(str(build_model(name)), language="text")


def _recipe_section() -> None:
    st.selectbox(
        "Preset",
        [*PRESETS, "custom"],
        key="f_preset",
        **KEEP,
        on_change=_apply_preset,
        help="Fills the values below; edit any of them.",
    )
    if st.session_state["f_preset"] in PRESETS:
        st.caption(PRESETS[st.session_state["f_preset"]].description)
    c = st.columns(3)
    c[0].number_input("Epochs", step=1, key="f_epochs", **KEEP)
    c[1].number_input("Batch size", step=1, key="f_batch_size", **KEEP)
    c[2].number_input("Seed", step=1, key="f_seed", **KEEP)
    c = st.columns(3)
    c[0].selectbox(
        "Optimizer",
        OPTIMIZERS,
        key="f_optimizer",
        **KEEP,
        help="sgd with momentum > 0 is SGD+momentum, as in the tutorial",
    )
    c[1].number_input("Learning rate", format="%g", step=0.001, key="f_lr", **KEEP)
    c[2].number_input("Momentum", format="%g", step=0.05, key="f_momentum", **KEEP)
    c = st.columns(4)
    c[0].selectbox(
        "Schedule",
        SCHEDULES,
        key="f_schedule",
        **KEEP,
        help="linear: warm up from 20 % over the first fifth, then straight down to 0 (airbench)",
    )
    c[1].number_input("Weight decay", format="%g", step=1e-4, key="f_weight_decay", **KEEP)
    c[2].number_input("Label smoothing", format="%g", step=0.05, key="f_label_smoothing", **KEEP)
    c[3].number_input(
        "Norm-shift lr ×",
        format="%g",
        step=1.0,
        key="f_norm_bias_lr_scale",
        **KEEP,
        help="batch-norm shifts learn this many times faster (airbench uses 64)",
    )
    c = st.columns(4)
    c[0].checkbox("Random flip", key="f_flip", **KEEP)
    c[1].slider("Random crop padding", 0, 8, key="f_crop_pad", **KEEP)
    c[2].checkbox("Flip at test time", key="f_tta", **KEEP)
    c[3].checkbox("channels_last", key="f_channels_last", **KEEP)


def _device_section(store: RunStore) -> list[str]:
    names = {d.name: d.label for d in list_devices()}
    if (gpus := jobs.ddp_processes()) > 1:  # DistributedDataParallel over every GPU, through torchrun
        names[DDP_DEVICE] = f"all {gpus} GPUs (DDP, one torchrun process each)"
    busy = {name: jobs.busy_run(store, name) for name in names}
    labels = {
        name: label + (f" — busy with {busy[name].id}" if busy[name] else "") for name, label in names.items()
    }
    if st.session_state.get("f_device") not in labels:
        st.session_state["f_device"] = "cpu"
    device = st.selectbox("Device", list(labels), format_func=labels.get, key="f_device", **KEEP)
    st.code(
        "device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')\n"
        f"# here: {device}\nnet.to(device)\ninputs, labels = data[0].to(device), data[1].to(device)",
        language="python",
    )
    st.caption(
        "The tutorial's GPU section: the model's parameters and every batch must live on the same "
        "device. Here the whole dataset is moved there once, so each step only indexes it."
    )
    if device == DDP_DEVICE:
        st.caption(
            f"torchrun --standalone --nproc_per_node={gpus} -m core.train …: each GPU trains on its share "
            "of every batch; gradients are averaged by DDP; the batch size below is the global one."
        )
    choices = AMP if device.startswith("cuda") or device == DDP_DEVICE else ("off", "bf16")
    if st.session_state.get("f_amp") not in choices:
        st.session_state["f_amp"] = "off"
    st.selectbox(
        "Mixed precision",
        choices,
        key="f_amp",
        **KEEP,
        help="bf16 autocast: about 1.8× faster convolutions on CUDA and on CPUs with AVX-512-BF16; "
        "fp16 is for CUDA only.",
    )
    if busy.get(device):
        return [_("Device {device} is busy with run {run}.").format(device=device, run=busy[device].id)]
    return []


def new_run_form(store: RunStore) -> tuple[TrainConfig, list[str]]:
    """Draw the form; return the config it describes and every reason it cannot start yet."""
    _init()
    st.markdown("##### 1 · Data")
    source, size, problems = _data_section()
    st.markdown("##### 2 · Model")
    _model_section()
    st.markdown("##### 3 · Recipe")
    _recipe_section()
    st.markdown("##### 4 · Device")
    busy = _device_section(store)
    s = st.session_state
    preset = s["f_preset"] if s["f_preset"] in PRESETS else ""
    values = {name: s[f"f_{name}"] for name in RECIPE_FIELDS}
    cfg = make_config(
        preset or None,
        **values,
        data=source or "synthetic",
        data_dir=str(data_dir()),
        device=s["f_device"],
        seed=int(s["f_seed"]),
    )  # the preset's values the form does not show
    st.markdown("##### Same run from a terminal")
    st.code(cli_command(cfg), language="bash")
    # the data's own problem is already listed (with a folder-specific hint): not twice
    checks = run_problems(cfg, check_data=False, size=size)
    return cfg, problems + [error_text(e) for e in checks.values()] + busy
