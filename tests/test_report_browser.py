"""Open report.html in headless Debian Chromium, from disk with the network off, and check what renders.

`make test` installs the `chromium` package when it runs as root (as CI does); elsewhere this test skips
and says how to install it.
"""

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tests.browser import CHROMIUM, HEADLESS_FLAGS
from tests.conftest import FIXTURES
from training.report.layout import SECTION_TITLES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOXIC_RED = (0xC0, 0x39, 0x2B)  # the toxic line colour in training/report/charts.py

pytestmark = pytest.mark.slow  # a headless browser


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.h2: list[str] = []
        self.scripts = 0
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        self._in_h2 = tag == "h2"
        self.scripts += tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data.strip())


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        *HEADLESS_FLAGS,
        f"--user-data-dir={profile}",
        # network off: no name resolves and every request would go to a closed local port
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
    ]
    command = [str(CHROMIUM), *flags, *args]
    # where we may, also run it in an empty network namespace (root on Linux): no route out at all
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-n", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def chromium_installed() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: `make test` installs Debian's chromium when run as root; else run apt-get install -y chromium"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def report_html(chromium_installed: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report with every section (the baseline section too), written by the real command's function."""
    from training.evaluate import evaluate

    out = tmp_path_factory.mktemp("browser-report")
    evaluate(tiny_model_dir, [str(FIXTURES / "eval_small.jsonl")], out, baseline_dir=tiny_model_dir, n_boot=200)
    return out / "report.html"


def test_dom_has_every_section_and_no_broken_image(report_html: Path, tmp_path: Path) -> None:
    done = chromium("--dump-dom", report_html.as_uri(), profile=tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    page = Page()
    page.feed(done.stdout)
    assert page.h2 == list(SECTION_TITLES.values())
    assert page.scripts == 0
    assert len(page.images) == 4
    for img in page.images:
        src = img.get("src") or ""
        assert src.startswith("data:image/png;base64,"), src[:80]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, img.get("alt")
        assert img.get("alt"), "every chart has alt text"


def test_screenshot_shows_the_charts(report_html: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    done = chromium("--window-size=1280,2600", f"--screenshot={shot}", report_html.as_uri(), profile=tmp_path / "p")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)

    # the confusion matrix's dark blue cells and the toxic curve's red: only drawn charts produce them
    def near(rgb: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(rgb)).sum(axis=1) < 30).sum())

    assert near(TOXIC_RED) > 200, "no toxic-red curve pixels: the PR/ROC chart did not render"
    assert near((0x08, 0x30, 0x6B)) > 2000, "no dark-blue cells: the confusion matrix did not render"
