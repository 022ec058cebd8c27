"""The app in the learner's language (中文 or English).

Strings are English in the code and go through `_()`; their translations live in gettext catalogs,
`locales/<lang>/LC_MESSAGES/<area>.po`, one file per area (page or module) so that several people can
translate different pages at once. All .po files of a language are read (with Babel) and merged into one
lookup table, re-read when a file changes. A missing, empty or fuzzy translation shows the English string.

The language: `?lang=zh|en` in the URL, else the sidebar switch's earlier choice in this session, else the
browser's locale (zh* → 中文, anything else → English). A `?lang=` with another value is ignored and
dropped from the URL. How to add and translate strings: docs/TRANSLATING.md."""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
from babel.messages.pofile import read_po

from core.messages import N_, MessageError, Phrase

__all__ = ["LANGUAGES", "N_", "_", "error_text", "language", "language_switch", "ngettext", "setup"]

LANGUAGES = {"zh": "中文", "en": "English"}
SOURCE_LANGUAGE = "en"
LOCALES = Path(__file__).resolve().parents[1] / "locales"
PARAM = "lang"
# session_state keys: the language chosen with the switch, the translations in use this run, the switch
_CHOICE = "_i18n_choice"
_ACTIVE = "_i18n_active"
_SWITCH = "i18n_switch"


def _english_plural(n: int) -> int:
    return int(n != 1)


@dataclass(frozen=True)
class Translations:
    """One language's merged catalogs: msgid → translation (a tuple of forms for plural messages)."""

    language: str
    messages: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    plural_index: Callable[[int], int] = _english_plural

    def gettext(self, message: str) -> str:
        found = self.messages.get(message)
        return found if isinstance(found, str) and found else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.messages.get(singular)
        if isinstance(forms, tuple):
            index = self.plural_index(n)
            if index < len(forms) and forms[index]:
                return forms[index]
        return singular if n == 1 else plural


def catalog_files(lang: str) -> list[Path]:
    """The .po files of `lang`, in a fixed order."""
    return sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po"))


def read_translations(lang: str, files: Sequence[Path]) -> Translations:
    """Merge the translations in `files` (.po files of `lang`), leaving out untranslated and fuzzy ones."""
    messages: dict[str, str | tuple[str, ...]] = {}
    plural_index = None
    for path in files:
        with open(path, "rb") as f:
            catalog = read_po(f, locale=lang)
        plural_index = plural_index or gettext.c2py(catalog.plural_expr)
        for message in catalog:
            if not message.id or message.fuzzy or message.context:
                continue
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            value = tuple(message.string) if isinstance(message.string, (tuple, list)) else message.string
            if any(value if isinstance(value, tuple) else (value,)):
                messages[key] = value
    return Translations(lang, messages, plural_index or _english_plural)


@functools.lru_cache(maxsize=8)
def _load(lang: str, stamp: tuple[tuple[str, int], ...]) -> Translations:
    """`lang`'s catalogs, cached; `stamp` (names and modification times) makes an edited file re-read."""
    return read_translations(lang, [LOCALES / lang / "LC_MESSAGES" / name for name, _mtime in stamp])


def translations(lang: str) -> Translations:
    """`lang`'s translations (English: none, the code's strings are English)."""
    if lang == SOURCE_LANGUAGE:
        return Translations(lang)
    return _load(lang, tuple((p.name, p.stat().st_mtime_ns) for p in catalog_files(lang)))


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


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for `n` things, e.g. ngettext("{n} run", "{n} runs", n).format(n=n)."""
    return _active().ngettext(singular, plural, n)


def error_text(error: Exception | Phrase) -> str:
    """An error's message in the learner's language: a core `MessageError`'s template is translated, then
    filled in (words among its values, `Phrase`s, translated too); any other error's text is looked up as it
    is (English when it has no translation)."""
    if not isinstance(error, (MessageError, Phrase)):
        return _(str(error))
    translated = _(error.template)
    values = {k: error_text(v) if isinstance(v, Phrase) else v for k, v in error.values.items()}
    try:
        return translated.format(**values) if values else translated
    except (KeyError, IndexError, ValueError):
        # a translation whose placeholders do not match: the English sentence rather than none
        return str(error)


def _switched() -> None:
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
