"""The HTML report and the subcommands' pages in a real browser (headless
chromium through playwright): every image loads, nothing is wider than the
viewport at 400 and 1400 px, no console error, user text stays text.

Needs the `playwright` package and a chromium binary (`apt-get install -y
chromium`, or KERAS_ZFNET_CHROMIUM=/path/to/chromium); skipped otherwise.
"""

import os
import shutil

import numpy as np
import pytest

from tests.cli.demo_run import quick_demo_folder

pytestmark = pytest.mark.xdist_group("demo")

WIDTHS = (400, 1400)


def _chromium():
    for candidate in (os.environ.get("KERAS_ZFNET_CHROMIUM"),
                      "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _skip(reason):
    # CI sets KERAS_ZFNET_REQUIRE_BROWSER=1: a missing browser fails there.
    if os.environ.get("KERAS_ZFNET_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        _skip("playwright is not installed (pip install playwright): "
              "browser checks skipped")
    executable = _chromium()
    if executable is None:
        _skip("no chromium found (apt-get install -y chromium, or set "
              "KERAS_ZFNET_CHROMIUM): browser checks skipped")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable,
                                    args=["--no-sandbox"])
        yield browser
        browser.close()


_CHECK = """() => {
  const width = document.documentElement.clientWidth;
  const images = Array.from(document.images).map(
      im => [im.alt, im.complete, im.naturalWidth]);
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 1 || r.left < -1)) {
      wide.push(el.tagName + ' ' + Math.round(r.width) + ' ' +
                (el.textContent || '').slice(0, 40));
    }
  }
  return {width: width, scroll: document.documentElement.scrollWidth,
          images: images, wide: wide.slice(0, 5),
          scripts: document.querySelectorAll('script').length};
}"""


def check_page(browser, path, screenshot_dir=None):
    """Loads `path` at each width; returns the check results."""
    results = {}
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"failed {r.url}"))
        page.goto("file://" + os.path.abspath(path))
        page.wait_for_load_state("load")
        result = page.evaluate(_CHECK)
        if screenshot_dir:
            page.screenshot(path=os.path.join(
                screenshot_dir, f"{os.path.basename(os.path.dirname(path))}"
                f"_{width}.png"), full_page=True)
        page.close()
        assert not errors, errors
        assert result["images"], "no image on the page"
        for alt, complete, natural in result["images"]:
            assert complete and natural > 0, f"image not loaded: {alt}"
        assert result["scroll"] <= result["width"], result
        assert not result["wide"], result["wide"]
        assert result["scripts"] == 0
        results[width] = result
    return results


def test_the_demo_report_renders_at_every_width(browser):
    folder = quick_demo_folder()
    shots = os.environ.get("KERAS_ZFNET_SCREENSHOTS")
    results = check_page(browser, os.path.join(folder, "index.html"), shots)
    assert len(results[400]["images"]) >= 8


def test_user_text_is_escaped_and_wide_content_fits(browser, tmp_path):
    from matplotlib.figure import Figure

    from keras_zfnet.plotting.report import Report

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    report = Report(f"Report of {hostile}", hostile)
    report.section(hostile, "A very long caption " * 40, id="s1")
    report.table([f"column {i} {hostile}" for i in range(9)],
                 [[f"{v:.6f}" for v in np.linspace(0, 1, 9)]] * 3,
                 hostile, name="wide")
    for i in range(3):
        figure = Figure(figsize=(12, 3))  # 1200 px wide at 100 dpi
        figure.subplots().plot(np.arange(10) ** i)
        report.figure(figure, f"{hostile} {i}", grid=i > 0)
    path = report.write(str(tmp_path / "page" / "index.html"))
    check_page(browser, path)  # no script ran (no console error, 0 scripts)
    text = open(path, encoding="utf-8").read()
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_a_subcommand_page_renders(browser, tmp_path):
    import keras

    from keras_zfnet.cli import main
    from tests.cli.conftest import write_pngs

    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
        keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"),
    ])
    model.save(str(tmp_path / "m.keras"))
    images = write_pngs(tmp_path / "imgs<b>",
                        np.random.default_rng(0).integers(0, 255, (2, 12, 12)))
    out = tmp_path / "project"
    assert main(["project", str(tmp_path / "m.keras"), images, "--layer",
                 "conv1", "--channels", "0", "1", "--output", str(out),
                 "--verbose", "0"]) == 0
    check_page(browser, str(out / "index.html"))
