"""Keep the translation catalogs in step with the code: extract every `_()`, `t()`, `ngettext()` and `N_()`
string from app.py, pages/, ui/ and core/, write them all to locales/messages.pot, add each area's new strings
to its own locales/<lang>/LC_MESSAGES/<area>.po (existing translations kept, strings gone from the code
dropped). One .po per area: pages/<page>.py → <page>.po, ui/<mod>.py → ui_<mod>.po, core/<mod>.py →
core_<mod>.po, app.py → app.po.

    .venv/bin/python -m ui.i18n_catalogs                       # every area
    .venv/bin/python -m ui.i18n_catalogs pages/train.py ui/live.py   # only these files' areas
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / "messages.pot"
# the same files as babel.cfg (for `pybabel extract -F babel.cfg`)
SOURCES = ("app.py", "pages/*.py", "ui/*.py", "core/*.py")
# gettext's usual markers, and ui.i18n's t("…", value=…), which translates its first argument (babel.cfg too)
KEYWORDS = {**DEFAULT_KEYWORDS, "t": None}
TARGET_LANGUAGES = ("zh",)
PROJECT = "Blitz Lab"


def source_files() -> list[Path]:
    """Every file whose strings are extracted."""
    return sorted({p for pattern in SOURCES for p in ROOT.glob(pattern)})


def area(path: Path) -> str:
    """The name of the .po file that holds `path`'s strings."""
    rel = path.resolve().relative_to(ROOT)
    folder = rel.parent.as_posix()
    if folder == "pages" or folder == ".":
        return rel.stem
    return f"{folder}_{rel.stem}"


def extract(paths: Iterable[Path]) -> dict[str, Catalog]:
    """The strings marked in `paths`, as one template catalog per area."""
    templates: dict[str, Catalog] = {}
    for path in sorted(paths):
        catalog = templates.setdefault(area(path), Catalog(project=PROJECT, fuzzy=False))
        rel = path.resolve().relative_to(ROOT).as_posix()
        for lineno, message, comments, context in extract_from_file(
            "python", path, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        ):
            catalog.add(message, locations=[(rel, lineno)], auto_comments=comments, context=context)
    return templates


def _po_text(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, ignore_obsolete=True, include_lineno=False, sort_by_file=True)
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def update(paths: Iterable[Path] | None = None) -> list[Path]:
    """Write locales/messages.pot and update the .po files of the areas of `paths` (default: all);
    returns the files that changed."""
    templates = extract(source_files())
    everything = Catalog(project=PROJECT, fuzzy=False)
    for template in templates.values():
        for message in template:
            if message.id:
                everything[message.id] = message
    changed = [TEMPLATE] if _write_if_changed(TEMPLATE, _po_text(everything)) else []
    areas = sorted({area(p) for p in paths} if paths is not None else templates)
    for lang in TARGET_LANGUAGES:
        for name in areas:
            po_path = LOCALES / lang / "LC_MESSAGES" / f"{name}.po"
            template = templates.get(name, Catalog(project=PROJECT))
            if not po_path.exists() and not len(template):
                continue
            if po_path.exists():
                with open(po_path, "rb") as f:
                    catalog = read_po(f, locale=lang)
            else:
                catalog = Catalog(
                    locale=lang,
                    domain=name,
                    project=PROJECT,
                    fuzzy=False,
                    header_comment=f"# {PROJECT}: the {name} strings in {lang}. See docs/TRANSLATING.md.",
                    last_translator=PROJECT,
                    language_team=f"{PROJECT} {lang}",
                )
            catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
            if _write_if_changed(po_path, _po_text(catalog)):
                changed.append(po_path)
    return changed


if __name__ == "__main__":
    for changed_path in update([Path(a) for a in sys.argv[1:]] or None):
        print(f"updated {changed_path.relative_to(ROOT)}")
