"""The "new run" form: data, model, recipe (preset + editable values) and device → a TrainConfig.

Its values are checked by core.validate, the same function the CLI uses, and Start stays disabled with
the reasons shown. The number inputs have no min/max of their own: a browser refuses to send a value
outside them and the old value would stay (and start); here every typed value arrives and is judged."""

from __future__ import annotations

import streamlit as st

from core import jobs
from core.cifar import ARCHIVE, FOLDER, CifarError, Source, can_download, has_layout, on_disk, resolve_copy
from core.config import AMP, PRESETS, TrainConfig, cli_command, make_config
from core.data import DataError, preview_folder, preview_grid
from core.devices import DDP_DEVICE, default_device, list_devices
from core.layers import CIFAR_NET
from core.models import CUSTOM, MODELS, build_model, get_model_spec
from core.optim import OPTIMIZERS, SCHEDULES
from core.paths import data_dir
from core.runs import RunStore
from core.validate import data_size, run_problems
from ui.builder import LATEST as BUILT
from ui.data import cached_dataset
from ui.i18n import N_, _, choice_key, error_text, t, translated
from ui.safe import md

DATA_LABELS = {
    "synthetic": N_("Demo shapes (generated, no download)"),
    "cifar10": N_("CIFAR-10 (the tutorial's data, 163 MB)"),
    "folder": N_("My image folder (train/<class>/…, test/<class>/…)"),
}
KEEP = {"persist_state": "session"}  # the form keeps its values when the user visits another page
SENT_DEVICE_LABELS = "f_device_labels"  # session_state: the device picker's labels, as last sent
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
    st.session_state["f_epochs"] = float(cfg.epochs)  # a float field: fractions such as 0.2, as the CLI


def use_demo_data() -> None:
    st.session_state["f_data"] = "synthetic"


def use_own_data(folder: str) -> None:
    """Train on a copy of CIFAR-10's files that is not the official release, as the learner's own data."""
    st.session_state["f_data"] = "folder"
    st.session_state["f_folder"] = folder


def _offer_own_data(problem: CifarError) -> None:
    """A copy refused as CIFAR-10 whose files have its layout: a button that trains on them as they are."""
    if problem.own_data:
        st.button(
            _("Train on these files as my own data"),
            on_click=use_own_data,
            args=(problem.own_data,),
            key="f_use_own_data",
        )


def _init() -> None:
    if "f_preset" in st.session_state:
        return
    st.session_state["f_preset"] = "tutorial"
    # the tutorial's data when it is here; else the shapes, which need no download (the page says why)
    st.session_state["f_data"] = "cifar10" if on_disk(data_dir()) else "synthetic"
    st.session_state["f_folder"] = ""
    st.session_state["f_cifar_path"] = ""
    st.session_state["f_seed"] = 0
    st.session_state["f_device"] = default_device()
    _apply_preset()


# Checks that read the disk or the network are cached for a few seconds, so the form's reruns don't repeat
# them, while a folder fixed meanwhile is seen again soon. They return core's English messages (the cache is
# shared by both languages); the form translates them.
@st.cache_resource(ttl=5, max_entries=16, show_spinner=False)
def _data_check(source: str, folder: str) -> int | DataError | CifarError:
    """The training set's size or why the source cannot load."""
    try:
        return data_size(source, folder)
    except (DataError, CifarError) as e:
        return e


@st.cache_resource(ttl=5, max_entries=16, show_spinner=False)
def _copy_check(path: str) -> Source | CifarError:
    """Where a typed CIFAR-10 path leads, or what is wrong with it."""
    try:
        return resolve_copy(path)
    except CifarError as e:
        return e


def _cifar_copy(folder: str) -> tuple[str, str, list[str]]:
    """CIFAR-10 is not in the data folder: a copy the learner already has, typed here; without one, the
    download on Start (when the host answers) or how to get it. Returns the data, its folder and problems."""
    path = st.text_input(
        _("Path of a CIFAR-10 copy you already have (optional)"),
        key="f_cifar_path",
        **KEEP,
        placeholder=f"/home/me/Downloads/{ARCHIVE}",
    ).strip()
    if path:
        found = _copy_check(path)
        if isinstance(found, CifarError):
            _offer_own_data(found)
            return "cifar10", folder, [error_text(found)]
        return found.data, found.data_dir or folder, []
    if can_download():
        st.caption(
            t(
                "Not in the data folder {folder} yet: the first run downloads it (163 MB, once).",
                folder=md(folder),
            )
        )
    else:
        st.info(
            t(
                "Already have CIFAR-10? Type its path above: a {folder} folder or a {archive} file (both "
                "checked against the official md5s), a folder holding either, or CIFAR-10 saved as an image "
                "folder (train/<class>/…, test/<class>/…).",
                folder="`" + FOLDER + "`",
                archive="`" + ARCHIVE + "`",
            )
        )
        st.button(_("Use the demo data instead"), on_click=use_demo_data, key="f_use_demo")
    return "cifar10", folder, []


def _data_section() -> tuple[str, str, int | None, list[str]]:
    """The data source, the folder it lives in (CIFAR-10's), its training-set size and its problems."""
    source = st.radio(
        _("Data"),
        list(DATA_LABELS),
        format_func=translated(DATA_LABELS),
        key=choice_key("f_data"),
        **KEEP,
        horizontal=True,
    )
    folder = str(data_dir())
    problems: list[str] = []
    if source == "synthetic" and not on_disk(folder):
        st.caption(
            t(
                "CIFAR-10, the tutorial's data, is not in the data folder {folder}: the demo shapes are the "
                "default, since they need no download.",
                folder=md(folder),
            )
        )
    if source == "folder":
        source = st.text_input(_("Folder path"), key="f_folder", **KEEP, placeholder="/home/me/pets").strip()
        if not source:
            problems.append(_("Enter the path of your image folder."))
    elif source == "cifar10" and not on_disk(folder):
        source, folder, problems = _cifar_copy(folder)
    size = None
    if not problems:
        checked = _data_check(source, folder)
        if isinstance(checked, (DataError, CifarError)):
            problems.append(error_text(checked))
            if isinstance(checked, CifarError):
                _offer_own_data(checked)
        else:
            size = checked
            st.caption(t("{count:,} training images.", count=size))
            if source not in ("synthetic", "cifar10") and has_layout(source):
                st.caption(
                    _(
                        "CIFAR-10's files, read as they are (without the official md5 check): trained as "
                        "your own data."
                    )
                )
    if not problems and st.toggle(_("Preview training images"), key="f_preview", **KEEP):
        try:
            # a folder: only the images shown are decoded (loading all of it first took 49 s for CIFAR-10)
            grid, classes = (
                preview_grid(cached_dataset(source, folder))
                if source in ("synthetic", "cifar10") or has_layout(source)
                else preview_folder(source)
            )
            st.image(grid.numpy(), caption=md(" · ".join(classes)), width=520)
        except DataError as e:
            st.error(md(error_text(e)))
            if source == "cifar10":
                st.button(_("Use the demo data instead"), on_click=use_demo_data, key="f_use_demo")
    return source, folder, size, problems


def _built_layers() -> str:
    """The network last built on chapter 3's page, one layer per line; the CIFAR Net when none was."""
    return st.session_state.get(BUILT) or "\n".join(part.strip() for part in CIFAR_NET.split("|"))


@st.cache_data(show_spinner=False)
def _parameter_counts() -> dict[str, int]:
    """Each model's parameter count, for the picker's labels: fixed, so counted once per server."""
    return {name: get_model_spec(name).parameter_count() for name in MODELS}


def _model_section() -> str:
    """The model picker; returns the layers (text form) when the model is a network of the learner's own."""
    labels = {
        n: t("{name} · {count:,} parameters", name=n, count=count) for n, count in _parameter_counts().items()
    }
    labels[CUSTOM] = _("custom · your own network, built from its layers (chapter 3)")
    name = st.selectbox(_("Model"), list(labels), key=choice_key("f_model"), **KEEP, format_func=labels.get)
    if name == CUSTOM:
        if "f_layers" not in st.session_state:
            st.session_state["f_layers"] = _built_layers()
        text = st.text_area(_("Layers, one per line"), key="f_layers", height=240, max_chars=2_000)
        layers = " | ".join(line.strip() for line in text.splitlines() if line.strip())
        st.caption(_("Checked when you change it; a layer that does not fit is named below."))
        return layers
    spec = get_model_spec(name)
    st.caption(
        t(
            "{description} Input {channels}×32×32.",
            description=_(spec.description),
            channels=spec.input_shape[0],
        )
    )
    with st.expander("print(net)"):
        st.code(str(build_model(name)), language="text")
    return ""


def _recipe_section() -> None:
    labels = {**{name: name for name in PRESETS}, "custom": _("custom")}
    st.selectbox(
        _("Preset"),
        list(labels),
        key="f_preset",
        **KEEP,
        on_change=_apply_preset,
        format_func=labels.get,
        help=_("Fills the values below; edit any of them."),
    )
    if st.session_state["f_preset"] in PRESETS:
        st.caption(_(PRESETS[st.session_state["f_preset"]].description))
    c = st.columns(3)
    if isinstance(st.session_state.get("f_epochs"), int):  # kept from before epochs took fractions
        st.session_state["f_epochs"] = float(st.session_state["f_epochs"])
    c[0].number_input(
        _("Epochs"),
        step=1.0,
        format="%g",
        key="f_epochs",
        **KEEP,
        help=_("A whole number, or a fraction such as 0.2 (a fifth of the training images), as `--epochs`."),
    )
    c[1].number_input(_("Batch size"), step=1, key="f_batch_size", **KEEP)
    c[2].number_input(_("Seed"), step=1, key="f_seed", **KEEP)
    c = st.columns(3)
    c[0].selectbox(
        _("Optimizer"),
        OPTIMIZERS,
        key="f_optimizer",
        **KEEP,
        help=_("sgd with momentum > 0 is SGD with momentum, as in the tutorial."),
    )
    c[1].number_input(_("Learning rate"), format="%g", step=0.001, key="f_lr", **KEEP)
    c[2].number_input(_("Momentum"), format="%g", step=0.05, key="f_momentum", **KEEP)
    c = st.columns(4)
    c[0].selectbox(
        _("Learning-rate schedule"),
        SCHEDULES,
        key="f_schedule",
        **KEEP,
        help=_("linear: warm up from 20 % over the first fifth, then straight down to 0 (airbench)."),
    )
    c[1].number_input(_("Weight decay"), format="%g", step=1e-4, key="f_weight_decay", **KEEP)
    c[2].number_input(_("Label smoothing"), format="%g", step=0.05, key="f_label_smoothing", **KEEP)
    c[3].number_input(
        _("Norm-shift lr ×"),
        format="%g",
        step=1.0,
        key="f_norm_bias_lr_scale",
        **KEEP,
        help=_("Batch-norm shifts learn this many times faster (airbench uses 64)."),
    )
    c = st.columns(4)
    c[0].checkbox(_("Random flip"), key="f_flip", **KEEP)
    c[1].slider(_("Random crop padding"), 0, 8, key="f_crop_pad", **KEEP)
    c[2].checkbox(_("Flip at test time"), key="f_tta", **KEEP)
    c[3].checkbox("channels_last", key="f_channels_last", **KEEP)


def _device_section(store: RunStore) -> list[str]:
    names = {d.name: error_text(d.label) for d in list_devices()}
    if (gpus := jobs.ddp_processes()) > 1:  # DistributedDataParallel over every GPU, through torchrun
        names[DDP_DEVICE] = t("all {count} GPUs (DDP, one torchrun process each)", count=gpus)
    busy = {name: jobs.busy_run(store, name) for name in names}
    labels = {
        name: t("{device} — busy with {run}", device=label, run=busy[name].id) if busy[name] else label
        for name, label in names.items()
    }
    if st.session_state.get("f_device") not in labels:
        st.session_state["f_device"] = "cpu"
    # The browser keeps the label it was last sent for the chosen device ("— busy with …" after that run
    # ended, or the other language's): setting the value again sends the current label with it.
    chosen = st.session_state["f_device"]
    if st.session_state.get(SENT_DEVICE_LABELS, {}).get(chosen, labels[chosen]) != labels[chosen]:
        st.session_state["f_device"] = chosen
    st.session_state[SENT_DEVICE_LABELS] = labels
    device = st.selectbox(_("Device"), list(labels), format_func=labels.get, key="f_device", **KEEP)
    here = t("here: {device}", device=device)
    st.code(
        "device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')\n"
        f"# {here}\nnet.to(device)\ninputs, labels = data[0].to(device), data[1].to(device)",
        language="python",
    )
    st.caption(
        _(
            "The tutorial's GPU section: the model's parameters and every batch must live on the same "
            "device. Here the whole dataset is moved there once, so each step only indexes it."
        )
    )
    if device == DDP_DEVICE:
        command = f"`torchrun --standalone --nproc_per_node={gpus} -m core.train …`"
        st.caption(
            t(
                "{command}: each GPU trains on its share of every batch; DDP averages the gradients; the "
                "batch size below is the global one.",
                command=command,
            )
        )
    choices = AMP if device.startswith("cuda") or device == DDP_DEVICE else ("off", "bf16")
    if st.session_state.get("f_amp") not in choices:
        st.session_state["f_amp"] = "off"
    st.selectbox(
        _("Mixed precision"),
        choices,
        key="f_amp",
        **KEEP,
        help=_(
            "bf16 autocast: about 1.8× faster convolutions on CUDA and on CPUs with AVX-512-BF16; fp16 is "
            "for CUDA only."
        ),
    )
    if busy.get(device):
        return [t("Device {device} is busy with run {run}.", device=device, run=busy[device].id)]
    return []


def new_run_form(store: RunStore) -> tuple[TrainConfig, list[str]]:
    """Draw the form; return the config it describes and every reason it cannot start yet."""
    _init()
    st.markdown("##### " + _("1 · Data"))
    source, folder, size, problems = _data_section()
    st.markdown("##### " + _("2 · Model"))
    layers = _model_section()
    st.markdown("##### " + _("3 · Recipe"))
    _recipe_section()
    st.markdown("##### " + _("4 · Device"))
    busy = _device_section(store)
    s = st.session_state
    preset = s["f_preset"] if s["f_preset"] in PRESETS else ""
    values = {name: s[f"f_{name}"] for name in RECIPE_FIELDS}
    cfg = make_config(
        preset or None,
        **values,
        data=source or "synthetic",
        data_dir=folder,
        layers=layers,
        device=s["f_device"],
        seed=int(s["f_seed"]),
    )  # the preset's values the form does not show
    st.markdown("##### " + _("Same run from a terminal"))
    st.code(cli_command(cfg), language="bash")
    # the data's own problem is already listed (with a folder-specific hint): not twice
    checks = run_problems(cfg, check_data=False, size=size)
    return cfg, problems + [error_text(e) for e in checks.values()] + busy
