"""The translation catalogs, read without streamlit: the app (ui.i18n) and the command lines share them.

Translations live in gettext catalogs, `locales/<lang>/LC_MESSAGES/<area>.po`, one file per source file.
All .po files of a language are read (with Babel) and merged into one lookup table. A missing, empty or
fuzzy translation gives the English string."""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.pofile import read_po

from .messages import MessageError, Phrase

SOURCE_LANGUAGE = "en"
LOCALES = Path(__file__).resolve().parents[1] / "locales"


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

    def message(self, error: Exception | Phrase) -> str:
        """A core `MessageError` or `Phrase` in this language: the template translated, then filled in (the
        `Phrase`s among its values translated too); any other error's text looked up as it is."""
        if not isinstance(error, (MessageError, Phrase)):
            return self.gettext(str(error))
        translated = self.gettext(error.template)
        words = (MessageError, Phrase)  # messages among the values (a reason inside a reason) translated too
        values = {k: self.message(v) if isinstance(v, words) else v for k, v in error.values.items()}
        try:
            return translated.format(**values) if values else translated
        except (KeyError, IndexError, ValueError):
            # a translation whose placeholders do not match: the English sentence rather than none
            return str(error)


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
