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


# --- messages kept in run folders: a template and its values, translated when shown (issue 24) ----------

_SCALARS = (str, int, float, bool, type(None))


def to_json(message: MessageError | Phrase | str) -> dict[str, object]:
    """A message as JSON, to store in a run folder: {"id": template, "values": {…}}, a `Phrase` among the
    values nested the same way. A plain string (an error of Python's or torch's) is its own template."""
    template = getattr(message, "template", None)
    if not isinstance(template, str):
        return {"id": str(message), "values": {}}
    values = {
        k: to_json(v) if isinstance(v, (MessageError, Phrase)) else v if isinstance(v, _SCALARS) else str(v)
        for k, v in message.values.items()
    }
    return {"id": template, "values": values}


def from_json(data: object) -> Phrase | None:
    """The stored message back, as a `Phrase` (the English sentence, translatable); None for anything that is
    not one (a hand-edited or older file): the caller falls back to the English text stored beside it."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        return None
    parsed: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            if (value := from_json(value)) is None:
                return None
        elif not isinstance(value, _SCALARS):
            return None
        parsed[key] = value
    try:
        return Phrase(data["id"], **parsed)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):  # placeholders that do not match
        return None


def stored_message(record: dict, key: str) -> Phrase | str:
    """`record[key]` as the learner's language can show it: the template stored at `key + "_message"`, else
    the English text at `key` (runs from before messages were stored as templates), else ""."""
    found = record.get(f"{key}_message") if isinstance(record, dict) else None
    if isinstance(found, list):  # several messages (a refused change: every reason)
        phrases = [from_json(m) for m in found]
        if phrases and all(p is not None for p in phrases):
            joined = " ".join(f"{{m{i}}}" for i in range(len(phrases)))
            return Phrase(joined, **{f"m{i}": p for i, p in enumerate(phrases)})
    elif (phrase := from_json(found)) is not None:
        return phrase
    text = record.get(key) if isinstance(record, dict) else None
    return text if isinstance(text, str) else ""
