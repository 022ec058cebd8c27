"""The course's chapters in the tutorial's order, and each page's place in them: app.py builds the
navigation from CHAPTERS, Home draws one card per chapter, and every page names its chapter at the top
(`chapter_heading(__file__)`) and ends with a link to the next page (`next_link(__file__)`).

A chapter's page is added by listing it in that chapter's `pages`: the navigation, Home's card and the
"next" links follow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ui.i18n import N_, _, setup, t

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ChapterPage:
    path: str  # relative to the repository root, as st.Page and st.page_link take it
    title: str  # English; shown through _()
    icon: str


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str  # English; shown through _()
    summary: str  # what the learner does there; English, shown through _()
    pages: tuple[ChapterPage, ...]

    @property
    def label(self) -> str:
        """The chapter's number and title in the learner's language, e.g. 3 · Neural networks."""
        return f"{self.number} · {_(self.title)}"


HOME = ChapterPage("pages/home.py", N_("Home"), "🏠")

CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        1,
        N_("Tensors"),
        N_(
            "Create tensors, look inside them (shape, dtype, device, memory), compute with them, and share "
            "memory with NumPy."
        ),
        (ChapterPage("pages/tensors.py", N_("Tensors"), "🧊"),),
    ),
    Chapter(
        2,
        N_("Autograd"),
        N_(
            "Build a small computation, see its computational graph, call `backward()` and check each "
            "gradient; then let gradient descent walk downhill."
        ),
        (ChapterPage("pages/autograd.py", N_("Autograd"), "🔁"),),
    ),
    Chapter(
        3,
        N_("Neural networks"),
        N_(
            "Run the `Net` class the app trains, cell by cell: forward pass, loss function, backpropagation, "
            "and a weight update by hand and with an optimizer."
        ),
        (ChapterPage("pages/neural_networks.py", N_("Neural networks"), "🧠"),),
    ),
    Chapter(
        4,
        N_("Training a classifier"),
        N_(
            "Train a classifier on CIFAR-10 (or your own images) and watch it learn, see how good it is per "
            "class, then ask it about images you draw or upload."
        ),
        (
            ChapterPage("pages/train.py", N_("Train"), "🏋️"),
            ChapterPage("pages/report.py", N_("Report"), "📊"),
            ChapterPage("pages/classify.py", N_("Classify"), "🎨"),
            ChapterPage("pages/practice.py", N_("Practice"), "✍️"),
        ),
    ),
    Chapter(
        5,
        N_("Training on a GPU"),
        N_(
            "Move the network and each batch to a GPU with `torch.device` and `.to(device)`, and compare "
            "the speed."
        ),
        (ChapterPage("pages/gpu.py", N_("Training on a GPU"), "⚡"),),
    ),
)


def _order() -> list[tuple[Chapter | None, ChapterPage]]:
    """Every page, Home first, in the order a learner goes through them."""
    return [(None, HOME)] + [(c, p) for c in CHAPTERS for p in c.pages]


def _page_path(page_file: str) -> str:
    return Path(page_file).resolve().relative_to(ROOT).as_posix()


def navigation() -> dict[str, list[st.Page]]:
    """app.py's st.navigation sections: Home on its own, then one section per chapter that has pages."""
    sections = {"": [st.Page(HOME.path, title=_(HOME.title), icon=HOME.icon, default=True)]}
    for chapter in CHAPTERS:
        if chapter.pages:
            sections[chapter.label] = [st.Page(p.path, title=_(p.title), icon=p.icon) for p in chapter.pages]
    return sections


def chapter_heading(page_file: str) -> None:
    """Name the chapter of the page in `page_file` (pass `__file__`) above its title. Call it first on a page:
    it also settles this run's language."""
    setup()
    for chapter, page in _order():
        if chapter is not None and page.path == _page_path(page_file):
            st.caption(t("Chapter {number} · {title}", number=chapter.number, title=_(chapter.title)))


def next_link(page_file: str) -> None:
    """End the page in `page_file` (pass `__file__`) with a link to the next page of the course."""
    order = _order()
    paths = [page.path for _chapter, page in order]
    index = paths.index(_page_path(page_file))
    chapter, page = order[(index + 1) % len(order)]
    st.divider()
    if chapter is None:
        st.page_link(page.path, label=_("Back to the map of the course"), icon=page.icon)
    else:
        # a chapter with several pages names the page too: "4 · Training a classifier · Report"
        title = chapter.label if len(chapter.pages) == 1 else f"{chapter.label} · {_(page.title)}"
        st.page_link(page.path, label=t("Next: {title}", title=title), icon=page.icon)
