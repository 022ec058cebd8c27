"""Translations: every string in the code has its 中文 in its area's .po file, the loader falls back to
English, and the language follows the URL, the sidebar switch and the browser."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po
from streamlit.testing.v1 import AppTest

from core.catalogs import catalog_files, read_translations
from core.messages import MessageError
from tests.apptest import APP
from ui.chapter import CHAPTERS, HOME
from ui.i18n_catalogs import KEYWORDS, LOCALES, ROOT, area, extract, source_files

MARKERS = {"_", "gettext", "ngettext", "N_", "t"}


def _po(lang: str, name: str) -> Catalog:
    path = LOCALES / lang / "LC_MESSAGES" / f"{name}.po"
    if not path.exists():
        return Catalog(locale=lang)
    with open(path, "rb") as f:
        return read_po(f, locale=lang)


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (tuple, list)) else [message.string]


def test_every_message_has_a_chinese_translation_in_its_areas_file():
    missing = []
    for name, template in extract(source_files()).items():
        catalog = _po("zh", name)
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id)
            if found is None or found.fuzzy or not all(_forms(found)):
                where = ", ".join(sorted({loc for loc, _line in message.locations}))
                missing.append(f"{name}.po: {message.id!r} ({where})")
    assert not missing, "untranslated (run `python -m ui.i18n_catalogs`, then translate):\n" + "\n".join(
        missing
    )


def test_a_message_is_translated_the_same_way_in_every_file_and_keeps_its_placeholders():
    seen: dict[str, tuple[str, str]] = {}
    problems = []
    for path in catalog_files("zh"):
        with open(path, "rb") as f:
            for message in read_po(f, locale="zh"):
                if not message.id or not all(_forms(message)):
                    continue
                msgid = message.id[0] if isinstance(message.id, tuple) else message.id
                fields = {
                    f
                    for m in ([msgid] + _forms(message))
                    for _t, f, _s, _c in string.Formatter().parse(m)
                    if f
                }
                for form in _forms(message):
                    if {f for _t, f, _s, _c in string.Formatter().parse(form) if f} != {
                        f for _t, f, _s, _c in string.Formatter().parse(msgid) if f
                    }:
                        problems.append(f"{path.name}: {msgid!r} → {form!r}: placeholders differ ({fields})")
                first = seen.setdefault(msgid, (path.name, message.string))
                if first[1] != message.string:
                    problems.append(
                        f"{msgid!r}: {first[0]} says {first[1]!r}, {path.name} says {message.string!r}"
                    )
    assert not problems, "\n".join(problems)


def test_translated_strings_are_literals_the_extractor_can_see():
    """`_(f"...")` or `_("a" + b)` would be looked up as the formatted text and never found."""
    bad = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
                first = node.args[0] if node.args else None
                formatted = isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "format"
                if isinstance(first, (ast.JoinedStr, ast.BinOp)) or formatted:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "format after translating: _('… {x} …').format(x=…): " + ", ".join(bad)


def test_the_app_fills_messages_in_with_t_not_a_chained_format():
    """`t("… {x} …", x=…)` rather than `_("… {x} …").format(x=…)` in app.py, pages/ and ui/ (issue 20)."""
    chained = []
    for path in source_files():
        if path.relative_to(ROOT).parts[0] == "core" or path.name == "i18n.py":
            continue  # core does not translate (its messages are MessageErrors); ui/i18n.py defines t
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            target = (
                node.func.value
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                else None
            )
            if node.func.attr == "format" if target is not None else False:
                if (
                    isinstance(target, ast.Call)
                    and isinstance(target.func, ast.Name)
                    and target.func.id == "_"
                ):
                    chained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not chained, "use t(): " + ", ".join(chained)


def test_each_source_file_has_its_own_po_file_name():
    assert area(ROOT / "app.py") == "app"
    assert area(ROOT / "pages" / "train.py") == "train"
    assert area(ROOT / "ui" / "live.py") == "ui_live"
    assert area(ROOT / "core" / "expr.py") == "core_expr"


def _write_po(path: Path, entries: list[tuple[str, str, bool]]) -> None:
    catalog = Catalog(locale="zh")
    for msgid, msgstr, fuzzy in entries:
        catalog.add(msgid, msgstr, flags=["fuzzy"] if fuzzy else [])
    catalog.add(("{n} run", "{n} runs"), ("{n} 条训练记录",))
    with open(path, "wb") as f:
        write_po(f, catalog)


def test_missing_empty_and_fuzzy_translations_show_the_english_string(tmp_path):
    _write_po(tmp_path / "a.po", [("Train", "训练", False), ("Report", "", False)])
    _write_po(tmp_path / "b.po", [("Classify", "分类", True)])
    zh = read_translations("zh", [tmp_path / "a.po", tmp_path / "b.po"])
    assert zh.gettext("Train") == "训练"
    assert zh.gettext("Report") == "Report"  # empty
    assert zh.gettext("Classify") == "Classify"  # fuzzy
    assert zh.gettext("Never translated") == "Never translated"
    assert zh.ngettext("{n} run", "{n} runs", 1) == zh.ngettext("{n} run", "{n} runs", 5) == "{n} 条训练记录"
    english = read_translations("en", [])
    assert english.ngettext("{n} run", "{n} runs", 1) == "{n} run"
    assert english.ngettext("{n} run", "{n} runs", 2) == "{n} runs"


def test_every_page_is_in_the_course_in_chapter_order():
    in_course = [HOME.path] + [p.path for c in CHAPTERS for p in c.pages]
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
    assert sorted(in_course) == on_disk
    assert [c.number for c in CHAPTERS] == [1, 2, 3, 4, 5]
    assert [p.path for p in CHAPTERS[2].pages] == ["pages/neural_networks.py"]


def _home(locale: str | None = None, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if locale:
        at.context["locale"] = locale
    if lang is not None:
        at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    return at


def _chapter_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("#### ")]


def test_the_language_follows_the_browser_then_the_url():
    assert _chapter_titles(_home())[0] == "#### 1 · Tensors"
    assert _chapter_titles(_home("zh-CN"))[0] == "#### 1 · 张量"
    assert _chapter_titles(_home("zh-TW"))[0] == "#### 1 · 张量"
    assert _chapter_titles(_home("en-GB", "zh"))[0] == "#### 1 · 张量"
    assert _chapter_titles(_home("zh-CN", "en"))[0] == "#### 1 · Tensors"


@pytest.mark.parametrize("garbage", ["xx", "", "ZH", "zh-CN';--"])
def test_a_garbage_lang_falls_back_to_the_default_silently(runs_dir, garbage):
    at = _home("zh-CN", garbage)
    assert _chapter_titles(at)[0] == "#### 1 · 张量"
    assert "lang" not in at.query_params
    assert not at.error and not at.warning
    assert [i.value for i in at.info] == [i.value for i in _home("zh-CN").info]


def test_the_sidebar_switch_changes_the_language_and_holds_across_pages():
    at = _home("zh-CN")
    switch = at.sidebar.button_group[0]
    assert switch.label == "语言" and switch.value == "zh"
    switch.set_value("en").run()
    assert not at.exception
    assert at.query_params["lang"] == "en"
    assert _chapter_titles(at)[0] == "#### 1 · Tensors"
    at.switch_page("pages/neural_networks.py").run()
    assert not at.exception
    assert at.title[0].value == "Neural networks"
    assert at.query_params["lang"] == "en"


def _error_script() -> None:
    import streamlit as st

    from core.messages import MessageError
    from ui.i18n import error_text

    template = "No runs yet in {folder}. Start one on the Train page, or from a terminal: {command}"
    st.write(error_text(MessageError(template, folder="runs", command="make")))
    st.write(error_text(ValueError("Not in any catalog.")))


def test_core_errors_are_shown_translated_with_their_values():
    at = AppTest.from_function(_error_script, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.run()
    assert [m.value for m in at.markdown] == [
        "runs 里还没有训练记录。可以在“训练”页开始一次，或在终端运行：make",
        "Not in any catalog.",
    ]
    english = MessageError(
        "No runs yet in {folder}. Start one on the Train page, or from a terminal: {command}",
        folder="runs",
        command="make",
    )
    assert str(english).startswith("No runs yet in runs.")


def _t_script() -> None:
    import streamlit as st

    from ui.i18n import t, translated

    st.write(t("{count:,} training images.", count=12345))
    st.radio("refresh", ["every second", "off"], format_func=translated(["every second", "off"]))


def test_t_translates_then_fills_in_and_translated_labels_follow_the_language():
    at = AppTest.from_function(_t_script, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.run()
    assert at.markdown[0].value == "训练集共 12,345 张图像。"
    assert at.radio[0].options == [_po("zh", "ui_live").get(o).string for o in ("every second", "off")]
    at = AppTest.from_function(_t_script, default_timeout=60)
    at.query_params["lang"] = "en"
    at.run()
    assert at.markdown[0].value == "12,345 training images."
    assert at.radio[0].options == ["every second", "off"]


def test_t_is_extracted_like_underscore(tmp_path):
    """`make messages` and pybabel (babel.cfg) both read t("…") as a message."""
    source = tmp_path / "page.py"
    source.write_text('t("{n} apples", n=3)\n_("pears")\n')
    found = [message for _line, message, _c, _ctx in extract_from_file("python", source, keywords=KEYWORDS)]
    assert found == ["{n} apples", "pears"]
    sections = (ROOT / "babel.cfg").read_text().split("[python:")[1:]
    assert sections and all("keywords = t" in section for section in sections)
