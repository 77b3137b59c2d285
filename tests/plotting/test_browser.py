"""The unit browser: its data equals top_activations + Deconvnet.project, it
refuses bad input before any work, and it works in a real browser from
file:// (playwright driving Debian's chromium)."""

import os
import shutil

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis.top_result import crop_boxes
from keras_zfnet.plotting.browser import read_unit
from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image

CHROMIUM = "/usr/bin/chromium"
K = 4
DEAD = 2  # channel of c2 made dead


def _model():
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c2")(x)
    outputs = keras.layers.Dense(3, name="head")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs, name="tiny")
    kernel, bias = model.get_layer("c2").get_weights()
    bias[DEAD] = -1e3  # never active
    model.get_layer("c2").set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    keras.utils.set_random_seed(7)
    model = _model()
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (30, 12, 12, 1)).astype("float32")
    labels = rng.integers(0, 3, 30)
    folder = tmp_path_factory.mktemp("site") / "units"
    index = kz.browse(model, images, k=K, output_dir=str(folder),
                      labels=labels, class_names=["ant", "bee", "cat"],
                      display="raw", batch_size=8, verbose=0)
    return model, images, labels, str(folder), index


def _alive(model, images, layer):
    """Channels of `layer` active on some image (brute force)."""
    maps = keras.Model(model.input, model.get_layer(layer).output)(images)
    maxima = np.asarray(maps).max(axis=(1, 2))
    return [int(c) for c in np.flatnonzero(maxima.max(axis=0) > 0)], maxima


def test_unit_data_equals_top_activations_and_deconvnet(built):
    model, images, labels, folder, index = built
    assert index == os.path.join(folder, "index.html")
    deconvnet = kz.Deconvnet(model)
    for layer in ("c1", "c2"):
        channel = _alive(model, images, layer)[0][-1]
        top = kz.top_activations(model, images, layer, k=K, verbose=0)
        unit = read_unit(folder, layer, channel)
        np.testing.assert_array_equal(unit["values"], top.values[channel])
        np.testing.assert_array_equal(unit["indices"], top.indices[channel])
        np.testing.assert_array_equal(unit["positions"],
                                      top.positions[channel])
        assert unit["labels"] == labels[top.indices[channel]].tolist()
        boxes = top.boxes()[channel]
        chosen = images[top.indices[channel]]
        # mode="max" seeds each image's first maximum: the scan's position.
        projected = deconvnet.project(chosen, layer, channel, mode="max")
        expected = projection_to_image(crop_boxes(projected, boxes))
        np.testing.assert_allclose(unit["projections"] / 255.0, expected,
                                   atol=1 / 255 + 1e-6)
        patches = crop_boxes(input_to_image(chosen, "raw")[..., None], boxes)
        np.testing.assert_allclose(unit["patches"] / 255.0, patches[..., 0],
                                   atol=0.5 / 255 + 1e-6)


def test_histogram_and_dead_units(built):
    model, images, _, folder, _ = built
    alive, maxima = _alive(model, images, "c2")
    for channel in range(6):
        unit = read_unit(folder, "c2", channel)
        assert sum(unit["histogram"]["counts"]) == len(images)
        assert unit["silent"] == int((maxima[:, channel] <= 0).sum())
        assert unit["dead"] == (channel not in alive)
        if channel in alive:
            limit = unit["histogram"]["limit"]
            assert limit / 2 <= maxima[:, channel].max() < limit
    assert DEAD not in alive


def test_refuses_a_folder_that_is_not_a_site(built, tmp_path):
    model, images, *_ = built
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        kz.browse(model, images[:4], k=1, output_dir=str(tmp_path),
                  verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]
    kz.browse(model, images[:4], k=1, output_dir=str(tmp_path),
              overwrite=True, verbose=0)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    # A previous site is replaced without overwrite=True.
    kz.browse(model, images[:4], layers=["c1"], k=2,
              output_dir=str(tmp_path), verbose=0)
    assert not any(name.startswith("c2") for name in
                   os.listdir(tmp_path / "kz_browser" / "sprites"))


def test_dataset_with_labels(built, tmp_path):
    import tensorflow as tf

    model, images, labels, folder, _ = built
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(7)
    kz.browse(model, dataset, layers=["c2"], k=K, output_dir=str(tmp_path),
              class_names=["ant", "bee", "cat"], display="raw", verbose=0)
    for channel in range(6):
        unit = read_unit(str(tmp_path), "c2", channel)
        np.testing.assert_array_equal(
            unit["indices"], read_unit(folder, "c2", channel)["indices"])
        assert unit["labels"] == labels[unit["indices"]].tolist()


def test_jpeg_sheets_hold_the_same_tiles(built, tmp_path):
    model, images, _, folder, _ = built
    kz.browse(model, images, layers=["c1"], k=K, output_dir=str(tmp_path),
              display="raw", batch_size=8, image_format="jpeg", verbose=0)
    sheets = os.listdir(tmp_path / "kz_browser" / "sprites")
    assert sheets and all(name.endswith(".jpg") for name in sheets)
    for channel in range(4):
        lossy = read_unit(str(tmp_path), "c1", channel)
        exact = read_unit(folder, "c1", channel)
        np.testing.assert_array_equal(lossy["indices"], exact["indices"])
        difference = np.abs(lossy["patches"].astype(int) - exact["patches"])
        assert difference.mean() < 8


@pytest.mark.parametrize("kwargs, message", [
    (dict(layers=["nope"]), "Unknown layers 'nope'"),
    (dict(layers=["head"]), "spatial maps"),
    (dict(k=0), "`k` must be an integer >= 1. Received: k=0"),
    (dict(data=np.zeros((0, 12, 12, 1), "float32")), "`data` is empty"),
    (dict(display="sepia"), "`display` must be"),
    (dict(image_format="gif"), "`image_format` must be"),
])
def test_bad_input_fails_before_any_work(built, tmp_path, kwargs, message):
    model, images, *_ = built
    arguments = dict(data=images[:4], k=2, verbose=0,
                     output_dir=str(tmp_path / "out"))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        kz.browse(model, **arguments)
    assert not (tmp_path / "out").exists()


def test_command_line(built, tmp_path):
    from keras_zfnet.cli import main

    model, images, labels, *_ = built
    model.save(tmp_path / "tiny.keras")
    np.savez(tmp_path / "images.npz", images=images[:10], labels=labels[:10])
    out = tmp_path / "cli_units"
    status = main(["browse", str(tmp_path / "tiny.keras"),
                   str(tmp_path / "images.npz"), "--output", str(out),
                   "--layers", "c2", "--k", "3", "--verbose", "0"])
    assert status == 0
    unit = read_unit(str(out), "c2", 0)
    top = kz.top_activations(model, images[:10], "c2", k=3, verbose=0)
    np.testing.assert_array_equal(unit["indices"], top.indices[0])
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("x")
    assert main(["browse", str(tmp_path / "tiny.keras"),
                 str(tmp_path / "images.npz"), "--output",
                 str(tmp_path / "taken")]) == 2


# In a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path,
                                              args=["--no-sandbox"])
        yield instance
        instance.close()


def _page(browser, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def _all_sheets_loaded(page):
    """Loads every background image the page shows, independently of the
    page's own bookkeeping; returns the ones that fail."""
    return page.evaluate("""async () => {
      const urls = new Set();
      for (const node of document.querySelectorAll('*')) {
        const m = getComputedStyle(node).backgroundImage
          .match(/url\\("?(.*?)"?\\)/);
        if (m) urls.add(m[1]);
      }
      const failed = [];
      for (const url of urls) {
        const ok = await new Promise(done => {
          const image = new Image();
          image.onload = () => done(image.naturalWidth > 0);
          image.onerror = () => done(false);
          image.src = url;
        });
        if (!ok) failed.push(url);
      }
      return {count: urls.size, failed};
    }""")


def _widest(page):
    return page.evaluate("""() => Math.max(
      document.documentElement.scrollWidth,
      ...[...document.querySelectorAll('body *')].map(
        n => n.getBoundingClientRect().right))""")


def test_site_in_a_browser(built, browser):
    model, images, _, folder, index = built
    alive = _alive(model, images, "c2")[0]
    unit = alive[0]
    assert unit + 1 < 6
    url = "file://" + os.path.abspath(index)
    page, errors = _page(browser, 1000)
    page.goto(url)
    assert page.locator("#layers tbody tr").count() == 2
    page.click("#layers >> text=c2")
    page.wait_for_selector("#grid")
    assert page.locator("#grid .unit").count() == 6
    assert page.locator("#grid .unit.dead").count() == 6 - len(alive)
    loaded = _all_sheets_loaded(page)
    assert loaded["count"] == 1 and not loaded["failed"]
    page.click(f"#unit-{unit}")
    page.wait_for_selector("#unit-title")
    assert page.inner_text("#unit-title") == f"c2 \u00b7 unit {unit}"
    assert page.locator("#entries tbody tr").count() == K
    assert page.locator("#histogram svg rect").count() >= 1
    loaded = _all_sheets_loaded(page)
    assert loaded["count"] == 1 and not loaded["failed"]
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"location.hash === '#c2/{unit + 1}'")
    page.wait_for_selector(f"text=c2 \u00b7 unit {unit + 1}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector(f"text=c2 \u00b7 unit {unit}")
    page.keyboard.press("ArrowUp")
    page.wait_for_selector("#grid")
    assert page.evaluate("location.hash") == "#c2"
    page.fill("#query", "3")
    page.press("#query", "Enter")
    page.wait_for_selector("text=c2 \u00b7 unit 3")
    assert errors == []


def test_deep_link_and_narrow_viewport(built, browser):
    _, _, labels, folder, index = built
    page, errors = _page(browser, 400)
    page.goto("file://" + os.path.abspath(index) + "#c1/3")
    page.wait_for_selector("#unit-title")
    assert page.inner_text("#unit-title") == "c1 \u00b7 unit 3"
    unit = read_unit(folder, "c1", 3)
    first_row = page.locator("#entries tbody tr").first.inner_text()
    assert str(unit["indices"][0]) in first_row
    assert ["ant", "bee", "cat"][unit["labels"][0]] in first_row
    assert not _all_sheets_loaded(page)["failed"]
    for fragment in ("#c1/3", "#c2", ""):
        page.goto("file://" + os.path.abspath(index) + fragment)
        page.wait_for_timeout(200)
        assert _widest(page) <= 400, fragment
    page.goto("file://" + os.path.abspath(index) + "#c2/99")
    page.wait_for_selector("#grid")
    assert "no 99" in page.inner_text("#message")
    assert errors == []
