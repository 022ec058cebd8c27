"""Every chart's words (titles, axis titles, legend names, hover texts, notes) are in the learner's
language."""

import json
import re

from streamlit.testing.v1 import AppTest


def _chart_words() -> None:
    """Build every figure in this run's language and write out the words it shows, one JSON list."""
    import json

    import pandas as pd
    import streamlit as st

    from ui import charts
    from ui.i18n import setup

    setup()
    curve = pd.DataFrame(
        {"global_step": [0, 1], "loss": [2.0, 1.0], "smoothed": [2.0, 1.5], "lr": [0.1, 0.1]}
    )
    epochs = pd.DataFrame({"epoch": [1, 2], "test_accuracy": [0.3, 0.5]})
    grid = {"x": [0.0, 1.0], "y": [0.0, 1.0], "z": [[0.0, 1.0], [1.0, 2.0]]}
    # run, optimizer and class names are data, not words of the app: written in Chinese here
    figures = [
        charts.loss_figure({"甲": curve}),
        charts.loss_figure({"甲": curve, "乙": curve}),
        charts.accuracy_figure({"甲": epochs}, reference=0.1),
        charts.lr_figure(curve),
        charts.descent_paths_figure(grid, {"优化器": [(0.0, 0.0), (1.0, 1.0)]}, 3.0),
        charts.descent_loss_figure({"优化器": [1.0, 0.5]}),
        charts.per_class_figure({"甲": {"猫": 0.5, "狗": 0.7}}, chance=0.5),
        charts.confusion_figure([[1, 2], [3, 4]], ["猫", "狗"], normalized=False),
        charts.topk_figure([("猫", 0.9), ("狗", 0.1)]),
        charts.heatmap_figure([[1.0, 2.0]], [0], [0, 1]),
        charts.clinic_figure([2.3, 1.0], [2.3, float("nan")], "每一步的损失", "损失"),
    ]
    words = []
    for fig in figures:
        layout = fig["layout"]
        words += [layout.get(k, {}).get("title", {}).get("text") for k in ("xaxis", "yaxis")]
        words += [layout.get("title", {}).get("text")] + [a["text"] for a in layout.get("annotations", [])]
        words += [t.get(k) for t in fig["data"] for k in ("name", "hovertemplate")]
    st.text(json.dumps([w for w in words if w]))


def _words(lang: str) -> list[str]:
    at = AppTest.from_function(_chart_words, default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    return json.loads(at.text[0].value)


def test_every_chart_word_is_chinese_in_chinese():
    words = _words("zh")
    assert "训练损失" in words and "混淆矩阵" in words and "随机猜测水平 (50 %)" in words
    # a word without Chinese in it may only be a unit or a number ("%"), never an English word
    chinese, english = re.compile(r"[\u4e00-\u9fff]"), re.compile(r"[A-Za-z]{2,}")
    untranslated = [w for w in words if not chinese.search(w) and english.search(w)]
    assert not untranslated, untranslated


def test_the_charts_speak_english_by_default():
    words = _words("en")
    assert "Training loss" in words and "Confusion matrix" in words and "chance (50 %)" in words
