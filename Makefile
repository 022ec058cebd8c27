# `make run` starts the app, `make test` lints and runs every test, `make test-fast` runs the quick tests
# (no `slow` or `browser` ones) for the edit loop. All set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test test-fast lint browser messages clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Blitz Lab needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	@echo "Blitz Lab: open http://localhost:$(PORT)"
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

# Browser tests drive Debian's chromium through Playwright (Playwright's own browser download is not needed),
# with a CJK font so that 中文 pages and their screenshots show characters, not boxes.
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else echo "NOTE: chromium not found and not root: browser tests will be skipped (set BLITZLAB_CHROMIUM)."; fi
	@if fc-list 2>/dev/null | grep -qi "CJK"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-noto-cjk || \
		 (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-noto-cjk)); \
	else echo "NOTE: no CJK font and not root: 中文 screenshots will show boxes (install fonts-noto-cjk)."; fi

# ruff: lint + format check (config in pyproject.toml); `$(BIN)/ruff format .` fixes the formatting.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint browser
	$(BIN)/python -m pytest

test-fast: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -m "not slow and not browser"

# Translations: add new strings to locales/zh/LC_MESSAGES/*.po (untranslated until someone writes them; see
# docs/TRANSLATING.md). `make test` fails while any string lacks its 中文.
messages: $(VENV)/.installed
	$(BIN)/python -m ui.i18n_catalogs

clean:
	rm -rf $(VENV) .pytest_cache
