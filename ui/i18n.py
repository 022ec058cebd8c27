"""The app in the learner's language (中文 or English).

Strings are English in the code and go through `_()`; their translations live in gettext catalogs,
`locales/<lang>/LC_MESSAGES/<area>.po`, one file per area (page or module) so that several people can
translate different pages at once. All .po files of a language are read (with Babel) and merged into one
lookup table, re-read when a file changes. A missing, empty or fuzzy translation shows the English string.

The language: `?lang=zh|en` in the URL, else the sidebar switch's earlier choice in this session, else the
browser's locale (zh* → 中文, anything else → English). A `?lang=` with another value is ignored and
dropped from the URL. How to add and translate strings: docs/TRANSLATING.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import streamlit as st

from core.catalogs import SOURCE_LANGUAGE, Translations, translations
from core.messages import N_, Phrase

__all__ = [
    "LANGUAGES",
    "N_",
    "_",
    "choice_key",
    "error_text",
    "translated",
    "language",
    "language_switch",
    "ngettext",
    "setup",
    "t",
]

LANGUAGES = {"zh": "中文", "en": "English"}
PARAM = "lang"
# session_state keys: the language chosen with the switch, the translations in use this run, the switch
_CHOICE = "_i18n_choice"
_ACTIVE = "_i18n_active"
_SWITCH = "i18n_switch"
_CHOICES = "_i18n_choices"  # keys of the selection widgets whose option labels are translated (choice_key)


def browser_language() -> str:
    """中文 for a browser whose locale starts with zh (zh-CN, zh-TW, …), English otherwise."""
    return "zh" if (st.context.locale or "").lower().startswith("zh") else SOURCE_LANGUAGE


def _resolve() -> str:
    requested = st.query_params.get(PARAM)
    if requested in LANGUAGES:
        st.session_state[_CHOICE] = requested
        return requested
    if requested is not None:
        # a garbage ?lang= is ignored, without a message, and dropped from the URL
        del st.query_params[PARAM]
    chosen = st.session_state.get(_CHOICE)
    if chosen in LANGUAGES:
        # put the switch's choice back in the URL after a page change, so a reload keeps it
        st.query_params[PARAM] = chosen
        return chosen
    return browser_language()


def setup() -> Translations:
    """Decide this run's language and load its catalogs. app.py calls it first on every run; pages call it
    through `ui.chapter.chapter_heading`, which keeps them right when run alone (Streamlit's AppTest)."""
    active = translations(_resolve())
    st.session_state[_ACTIVE] = active
    return active


def _active() -> Translations:
    active = st.session_state.get(_ACTIVE)
    return active if active is not None else setup()


def language() -> str:
    """This run's language code: "zh" or "en"."""
    return _active().language


def _(message: str) -> str:
    """`message` (English) in the learner's language; English when it has no translation."""
    return _active().gettext(message)


def t(message: str, /, **values: object) -> str:
    """`message` translated, then its placeholders filled: `t("{count:,} images", count=n)`. The English
    template is what the catalogs hold (`make messages` extracts `t` like `_`), so translate first, format
    second; one call keeps that order."""
    return _(message).format(**values)


def translated(options: Mapping[str, str] | Iterable[str]) -> Callable[[str], str]:
    """A widget's `format_func` for options shown by their English text (an iterable) or by a label each (a
    mapping): translated now, during the run. Streamlit may call format_func after the run, when this
    session's language is no longer at hand, so `format_func=_` is not safe."""
    texts = options if isinstance(options, Mapping) else {option: option for option in options}
    return {option: _(text) for option, text in texts.items()}.get


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for `n` things, e.g. ngettext("{n} run", "{n} runs", n).format(n=n)."""
    return _active().ngettext(singular, plural, n)


def error_text(error: Exception | Phrase) -> str:
    """An error's message in the learner's language: a core `MessageError`'s template is translated, then
    filled in (words among its values, `Phrase`s, translated too); any other error's text is looked up as it
    is (English when it has no translation)."""
    return _active().message(error)


def choice_key(key: str) -> str:
    """`key=` for a selectbox, radio or segmented control whose option labels are translated. Streamlit
    knows a choice by its shown label: after a language switch it finds no option with the old label, and
    the widget falls back to its first option or hands back the old label itself as its value. The switch
    sets each such widget's value again, so the choice is kept and shown in the new language."""
    st.session_state.setdefault(_CHOICES, set()).add(key)
    return key


def _switched() -> None:
    for key in st.session_state.get(_CHOICES, ()):
        if key in st.session_state:  # read back through the previous run's labels: the learner's choice
            st.session_state[key] = st.session_state[key]
    choice = st.session_state.get(_SWITCH)
    st.session_state[_CHOICE] = choice
    st.query_params[PARAM] = choice


def language_switch() -> None:
    """The sidebar's 中文 / English switch; the choice goes into the URL (?lang=) and holds across pages."""
    # keep the switch showing the language in use, whichever way it was decided (URL, browser, earlier choice)
    st.session_state[_SWITCH] = language()
    st.sidebar.segmented_control(
        _("Language"),
        list(LANGUAGES),
        format_func=LANGUAGES.get,
        required=True,
        key=_SWITCH,
        on_change=_switched,
    )
