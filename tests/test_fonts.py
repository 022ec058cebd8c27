"""`make test` installs a CJK font with the browser, so 中文 pages (and their screenshots) show characters."""

import shutil
import subprocess

import pytest

from tests.appserver import chromium_path

pytestmark = pytest.mark.browser


@pytest.mark.skipif(chromium_path() is None or shutil.which("fc-list") is None, reason="no browser here")
def test_a_font_for_chinese_is_installed_beside_the_browser():
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no font covers Chinese: `make browser` installs fonts-noto-cjk"
