"""Ask the model: draw something or upload pictures, and see what a trained run thinks they are."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.evaluation import CheckpointError, load_run_model, predict_topk
from core.images import FITS, MAX_FILE_BYTES, MAX_FILES, ImageError, from_canvas, model_view, read_images
from core.insight import feature_maps, first_layer_filters, saliency
from core.models import get_model_spec
from core.paths import runs_dir
from core.runs import RunStore
from ui import through_navigation
from ui.chapter import chapter_heading, next_link
from ui.charts import plot, topk_figure
from ui.i18n import _, choice_key, error_text, t
from ui.run_picker import pick_trained_run
from ui.safe import error, md

through_navigation()
chapter_heading(__file__)

st.title("🎨 " + _("Classify"))
st.caption(
    _(
        "The tutorial's last step, \"let's see what the neural network thinks these examples are\": draw "
        "or upload images and read the model's top-k predictions. The images go through the same 32×32 "
        "preprocessing as in training."
    )
)

store = RunStore(runs_dir())


@st.cache_resource(max_entries=4, show_spinner=False)
def model_for(run_id: str, mtime: float):
    return load_run_model(store.open(run_id))


run = pick_trained_run(store, _("Model from run"), "cl_run", hint=_(", then draw a disc or a cross here"))
try:
    model, cfg = model_for(run.id, run.model_path.stat().st_mtime)
except CheckpointError as e:
    error(error_text(e))
    st.stop()
classes = run.summary().get("classes") or [str(i) for i in range(10)]
in_channels = get_model_spec(cfg["model"], cfg.get("layers", "")).in_channels
k = st.slider(_("Top k"), 1, len(classes), min(5, len(classes)), key="cl_k")


def show_prediction(x, key: str) -> None:
    """The 32×32 input as the model sees it, and its top-k probabilities as bars."""
    top = predict_topk(model, x[None], classes, in_channels, k, tuple(cfg["mean"]), tuple(cfg["std"]))[0]
    left, right = st.columns([1, 3])
    left.image(model_view(x, in_channels), caption=_("what the model sees (32×32)"), width=128)
    with right:
        plot(topk_figure(top), key=f"{key}_topk")
    with st.expander(_("What the network sees")):
        c = st.columns([1, 2])
        c[0].image(
            saliency(model, x, in_channels, tuple(cfg["mean"]), tuple(cfg["std"])).numpy(),
            width=160,
            caption=_("saliency map: the pixels that move the top class's score most (red)"),
        )
        c[1].image(first_layer_filters(model).numpy(), caption=_("the first conv layer's filters"), width=320)
        for maps in feature_maps(model, x, in_channels, tuple(cfg["mean"]), tuple(cfg["std"])):
            caption = t(
                "feature maps of {layer}: {count} maps of {height}×{width}",
                layer=maps.layer,
                count=maps.count,
                height=maps.height,
                width=maps.width,
            )
            st.image(maps.grid.numpy(), caption=caption)


draw_tab, upload_tab = st.tabs([_("Draw"), _("Upload")])
with draw_tab:
    c = st.columns(4)
    stroke = c[0].color_picker(_("Brush colour"), "#1f2937", key="cl_stroke")
    width = c[1].slider(_("Brush size"), 2, 60, 18, key="cl_width")
    background = c[2].color_picker(_("Background"), "#ffffff", key="cl_bg")
    left, right = st.columns([1, 2])
    with left:
        drawing = st_canvas(
            stroke_width=width,
            stroke_color=stroke,
            background_color=background,
            height=280,
            width=280,
            drawing_mode="freedraw",
            return_image_data=True,
            key="cl_canvas",
        )
        st.caption(_("Undo or clear with the icons above the canvas."))
    with right:
        rgba = drawing.image_data if drawing is not None else None
        if rgba is None or rgba[..., 3].max() == 0:
            st.info(_("Draw on the canvas: the top-k predictions appear after each stroke."))
        else:
            bg = tuple(int(background[i : i + 2], 16) for i in (1, 3, 5))
            show_prediction(from_canvas(rgba, bg), "draw")

with upload_tab:
    fits = {"crop": _("centre-crop (keep aspect)"), "resize": _("resize (squash)")}
    fit = st.radio(_("Fit to 32×32"), FITS, horizontal=True, key=choice_key("cl_fit"), format_func=fits.get)
    types = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
    files = st.file_uploader(
        _("Images"),
        type=types,
        accept_multiple_files=True,
        key="cl_files",
        # the widget's own line ("Limit … per file") then states this app's limit, which the browser enforces
        max_upload_size=MAX_FILE_BYTES // 2**20,
    )
    # the widget's own words are Streamlit's, in English whatever the page's language (no option changes
    # them: streamlit/streamlit#13500): the same facts in the learner's language, under it
    st.caption(
        t(
            "Drop images on the box above or click its Browse files button: {types}, at most {mb} MB per "
            "file and {count} files at a time.",
            types=", ".join(f"`{kind}`" for kind in types),  # file extensions are code, not words
            mb=MAX_FILE_BYTES // 2**20,
            count=MAX_FILES,
        )
    )
    # read_images bounds how many files and bytes one upload reads
    for i, (name, x) in enumerate(read_images(((f.name, f.getvalue()) for f in files or []), fit)):
        st.markdown(f"**{md(name)}**")
        if isinstance(x, ImageError):
            error(error_text(x))
        else:
            show_prediction(x, f"upload{i}")

next_link(__file__)
