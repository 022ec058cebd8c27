"""Messages core shows to people, kept translatable without core knowing about languages or streamlit.

Core writes English. A message with values is raised as a `MessageError` (or a subclass) holding its
template and values: `str(e)` is the English sentence (the CLI prints it), and the app translates the
template, then fills in the values (`ui.i18n.error_text`). `N_` marks a string for extraction into the
catalogs (locales/*/LC_MESSAGES/core_<module>.po) without translating it here."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark `message` for translation; it stays English in core and is translated where it is shown."""
    return message


class MessageError(ValueError):
    """An error whose text is an English template plus its values, e.g.
    `MessageError(N_("There is no tensor named '{name}'."), name="q")`. Values are data (names, numbers),
    never English words, since only the template is translated."""

    def __init__(self, template: str, /, **values: object):
        self.template = template
        self.values = values
        super().__init__(template.format(**values) if values else template)


class Phrase(str):
    """Words that fill a message's placeholder (what a value is: "a numpy array"). A str, so the English
    sentence reads as before, that keeps its `N_` template and values so the app translates it too
    (`ui.i18n.error_text` translates the phrases inside a message)."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, /, **values: object) -> Phrase:
        phrase = super().__new__(cls, template.format(**values) if values else template)
        phrase.template, phrase.values = template, values
        return phrase
