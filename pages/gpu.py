"""Chapter 5, training on a GPU: the tutorial's device lines in our words, and a race of the same recipe on
every device this machine has (core/race.py), with the network's width as the knob that decides who wins."""

import pandas as pd
import streamlit as st

from core.devices import list_devices
from core.race import (
    PAGE_BATCH_SIZES,
    PAGE_MIN_STEPS,
    PAGE_WIDTHS,
    WARMUP_STEPS,
    Race,
    net_size,
    page_max_steps,
    recorded_results,
    run_race,
)
from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.charts import plot, race_loss_figure, race_width_figure
from ui.i18n import _, error_text, t
from ui.practice import practice_section

through_navigation()
chapter_heading(__file__)

# session_state: the last race, and (device, width, batch, images/s) of every lane raced in this session
RACE, HISTORY = "gpu_race", "gpu_history"
DEFAULT_STEPS = 30


def device_code() -> str:
    """The tutorial's device lines; their comments in the learner's language (the code stays code)."""
    return (
        'device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")\n'
        "print(device)  # {printed}\n\n"
        "net.to(device)  # {moved}\n\n"
        "for i, data in enumerate(trainloader, 0):\n"
        "    # {batches}\n"
        "    inputs, labels = data[0].to(device), data[1].to(device)\n"
        "    ...\n"
    ).format(
        printed=_("cuda:0 on a machine with an NVIDIA GPU, else cpu"),
        moved=_("every parameter and buffer of the network moves to the device"),
        batches=_("the loader makes CPU tensors: send each batch to the network's device"),
    )


def device_lines() -> None:
    """The tutorial's three device lines, and what each does."""
    st.markdown(
        _(
            "Training on a GPU takes three changes to the loop of chapter 4. Name the device, move the "
            "network there, and move every batch there:"
        )
    )
    st.code(device_code(), language="python")
    st.markdown(
        _(
            "- `torch.device` names where tensors live and where operations on them run. The line picks the "
            "first CUDA GPU when PyTorch can use one, and the CPU otherwise, so the same script runs on "
            "both.\n"
            "- `net.to(device)` converts the network's parameters and buffers to tensors on that device. A "
            "module is moved in place; there is no need to assign the result.\n"
            "- A tensor's `.to(device)` returns a copy on the device and leaves the original where it was: "
            "hence `inputs, labels = ...`. This happens at every step, because the loader produces batches "
            "on the CPU.\n"
            "- An operation needs all its tensors on one device. Forget one `.to(device)` and PyTorch stops "
            "with `Expected all tensors to be on the same device`."
        )
    )


def machine_devices() -> bool:
    """List this machine's devices; True when it has a GPU (CUDA or Apple's MPS)."""
    devices = list_devices()
    st.subheader(_("This machine's devices"))
    st.markdown("\n".join(f"- `{error_text(d.label)}`" for d in devices))
    has_gpu = len(devices) > 1
    if not has_gpu:
        st.info(
            _(
                "This machine has no GPU, so the race below has one lane: the CPU. On a machine with a GPU "
                "the same button adds a lane per GPU. What changes there: each step's arithmetic runs on "
                "thousands of GPU cores at once, but every step also pays fixed costs (launching each "
                "operation on the GPU, copying the batch over, waiting for `loss.item()`). The tutorial's "
                "network does so little arithmetic per image that those fixed costs dominate, which is why "
                "it hardly speeds up on a GPU. Widen the network and the arithmetic grows with the width "
                "squared while the fixed costs stay the same: that is where the GPU pulls ahead."
            )
        )
    return has_gpu


def race_controls() -> tuple[int, int, int]:
    """Width, batch size and steps, bounded so that a race finishes in seconds on a small CPU."""
    left, middle, right = st.columns(3)
    width = left.select_slider(_("Width (conv channels × w)"), options=PAGE_WIDTHS, value=1, key="gpu_width")
    batch = middle.selectbox(_("Batch size"), PAGE_BATCH_SIZES, index=1, key="gpu_batch")
    most = page_max_steps(width, batch)
    steps = right.slider(
        _("Steps per device"), PAGE_MIN_STEPS, most, min(DEFAULT_STEPS, most), key="gpu_steps"
    )
    size = net_size(width)
    st.caption(
        t(
            "At width {width}: conv1 has {c1} output channels and conv2 {c2}; {params:,} parameters; "
            "{mflop:.1f} MFLOP per image for the forward pass (about twice that again for backward).",
            width=width,
            c1=size.conv1,
            c2=size.conv2,
            params=size.parameters,
            mflop=size.forward_flops / 1e6,
        )
    )
    return width, batch, steps


def start_race(width: int, batch: int, steps: int) -> None:
    """Run the race with a progress bar, then keep it and its speeds for the charts."""
    bar = st.progress(0.0, text=_("Starting the race…"))
    every = max(1, steps // 20)

    def progress(device: str, done: int, total: int) -> None:
        if done % every == 0 or done == total:
            bar.progress(
                done / total,
                text=t("{device}: step {done} of {total}", device=device, done=done, total=total),
            )

    race = run_race(width, steps, batch, progress=progress)
    bar.empty()
    st.session_state[RACE] = race
    history = st.session_state.setdefault(HISTORY, [])
    history += [
        (lane.device, race.width, race.batch_size, lane.images_per_second)
        for lane in race.lanes
        if lane.images_per_second is not None
    ]


def show_race(race: Race) -> None:
    """Each lane side by side (images/s, time, last loss, or why it stopped), then the loss curves."""
    st.caption(
        t(
            "Width {width}, batch {batch}, {steps} steps per device, lanes one after another. Times leave "
            "out the first {warmup} step (the warm-up: allocating memory, choosing kernels, starting CUDA).",
            width=race.width,
            batch=race.batch_size,
            steps=race.steps,
            warmup=WARMUP_STEPS,
        )
    )
    for column, lane in zip(st.columns(len(race.lanes)), race.lanes):
        column.markdown(f"**{error_text(lane.label)}**")
        if lane.error is not None:
            column.error(error_text(lane.error))
            continue
        column.metric(_("Throughput (images/s)"), f"{lane.images_per_second:,.0f}")
        column.metric(_("Time"), t("{seconds:.2f} s", seconds=lane.seconds))
        column.metric(_("Last loss"), f"{lane.losses[-1]:.3f}")
    losses = {lane.device: lane.losses for lane in race.lanes if lane.losses}
    if losses:
        plot(race_loss_figure(losses, _("Loss per step"), _("step"), _("loss")), key="gpu_loss")


def show_history() -> None:
    """Images/s by width for every lane raced in this session: where a GPU's line crosses the CPU's."""
    history = st.session_state.get(HISTORY, [])
    if not history:
        return
    rates: dict[str, list[tuple[int, float]]] = {}
    for device, width, batch, speed in history:
        rates.setdefault(t("{device}, batch {batch}", device=device, batch=batch), []).append((width, speed))
    st.markdown(_("Race again at other widths: each race adds its points."))
    plot(race_width_figure(rates, _("Throughput by width"), _("width"), _("images/s")), key="gpu_by_width")


def recorded_gpu_results() -> None:
    """GPU lanes measured by bench/device_race.py and recorded in docs/BENCHMARKS.md, when there are any."""
    st.subheader(_("Measured on a GPU"))
    rows = [r for r in recorded_results() if not r.get("device", "cpu").startswith("cpu")]
    if not rows:
        st.info(
            _(
                "No GPU measurement recorded yet. On a machine with a GPU, `python bench/device_race.py` "
                "runs the same race without the app and prints each device's speed in a table."
            )
        )
        return
    st.caption(_("From docs/BENCHMARKS.md, section “Device race (chapter 5)”."))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


st.title(_("Training on a GPU"))
device_lines()
has_gpu = machine_devices()
st.subheader(_("The race"))
st.markdown(
    _(
        "The same recipe (the tutorial's `Net`, `CrossEntropyLoss`, SGD with learning rate 0.001 and "
        "momentum 0.9) trains for the same number of steps on each device, from the same weights on the "
        "same batches. Each step sends its batch with `.to(device)` and reads the loss with `.item()`, as "
        "the tutorial's loop does. The loss curves should match; only the speed differs."
    )
)
width, batch, steps = race_controls()
if st.button(_("▶ Start the race"), key="gpu_race_run", type="primary"):
    start_race(width, batch, steps)
if RACE in st.session_state:
    show_race(st.session_state[RACE])
    show_history()
if not has_gpu:
    recorded_gpu_results()
practice_section(5)
next_link(__file__)
