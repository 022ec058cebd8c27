"""The 中文 catalogs use one word per term, the Chinese tutorial's where it has one (issue 21; the terms
listed in docs/TRANSLATING.md): e.g. batch size is 批次大小, never 批大小; and 暂停 is what training does,
never what the live view's refresh does (停止刷新)."""

from __future__ import annotations

from babel.messages.pofile import read_po

from core.catalogs import catalog_files

# a variant that must not appear → the word the tutorial uses
VARIANTS = {"批大小": "批次大小"}


def translations() -> list[tuple[str, str, str]]:
    found = []
    for path in catalog_files("zh"):
        with open(path, "rb") as f:
            for message in read_po(f, locale="zh"):
                strings = message.string if isinstance(message.string, (tuple, list)) else [message.string]
                found += [(path.name, str(message.id), s) for s in strings if message.id and s]
    return found


def test_terms_follow_the_tutorials_words():
    wrong = [
        f"{name}: {variant} in {text!r} (say {right})"
        for name, _msgid, text in translations()
        for variant, right in VARIANTS.items()
        if variant in text
    ]
    assert not wrong, "\n".join(wrong)


def test_the_live_views_refresh_is_never_called_paused():
    refresh = [
        (name, msgid, text)
        for name, msgid, text in translations()
        if "refresh" in msgid.lower() or msgid == "off"
    ]
    assert ("ui_live.po", "off", "停止刷新") in refresh
    assert not [r for r in refresh if "暂停" in r[2]]
