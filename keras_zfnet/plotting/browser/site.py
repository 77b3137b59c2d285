"""Writes the unit browser: a static site that works from `file://`.

Layout of `output_dir`:

- `index.html`: the page (one page, views chosen by the URL fragment: `#`,
  `#conv5`, `#conv5/31`); everything else lives in `kz_browser/`:
- `kz_browser/assets/browser.css`, `kz_browser/assets/browser.js`;
- `kz_browser/data/site.js`: the model, the layers (map size, channels,
  receptive field, dead channels, thumbnail sheet) as `window.KZ_SITE`;
- `kz_browser/data/<layer>.js`: per layer, every channel's top-k values,
  dataset indices, positions, labels and max-activation histogram (loaded
  when the layer is opened; `<script>` tags, since `file://` pages cannot
  fetch);
- `kz_browser/sprites/<layer>_thumbs.png`, `.../<layer>_<n>.png`: sprite
  sheets;
- `keras_zfnet_browser.json`: the marker that identifies a browser site
  (only such a folder is replaced without `overwrite=True`; with it, only
  `index.html`, `kz_browser/` and the marker are replaced). The site is
  written into a temporary folder beside `output_dir` and moved into place
  at the end (`keras_zfnet.utils.atomic`): a killed run leaves no
  half-written site.
"""

import html
import json
import os
import re
from importlib import resources

import numpy as np

from keras_zfnet.plotting.browser import tiles
from keras_zfnet.utils import atomic
from keras_zfnet.utils import progress
from keras_zfnet.utils.extras import require

FORMAT = "keras_zfnet.browser/1"
MARKER = "keras_zfnet_browser.json"
FILES = "kz_browser"
SITE = "a unit browser written by keras_zfnet"


def check_site_dir(output_dir, overwrite=False, name="output_dir"):
    """`atomic.check_output_dir` for a unit browser (see the module).

    Args:
        output_dir: the site's folder.
        overwrite: write into a non-empty folder that is not a site.
        name: the argument's name in messages.
    """
    return atomic.check_output_dir(output_dir, overwrite, MARKER, name=name,
                                   what=SITE)


def check_image_format(image_format):
    """`"auto"`, `"png"` or `"jpeg"` (a clear `ValueError` otherwise)."""
    if image_format not in ("auto", "png", "jpeg"):
        raise ValueError(
            "`image_format` must be 'auto', 'png' or 'jpeg'. Received: "
            f"image_format={image_format!r}")
    return image_format


def is_site(path):
    """Whether `path` holds a unit browser written by this module."""
    try:
        with open(os.path.join(path, MARKER), encoding="utf-8") as f:
            return json.load(f).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _layer_ids(names):
    """File-safe, unique ids for layer names (nested paths have '/')."""
    ids, used = [], set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "layer"
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate.lower())
        ids.append(candidate)
    return ids


def _number(value):
    """The shortest decimal that reads back as the same float32."""
    return float(np.format_float_positional(np.float32(value), unique=True,
                                            trim="-"))


def _script(variable, key, payload):
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    # "</" would end an inline script in some contexts; harmless to escape.
    text = text.replace("</", "<\\/")
    if key is None:
        return f"window.{variable} = {text};\n"
    return (f"(window.{variable} = window.{variable} || {{}})"
            f"[{json.dumps(key)}] = {text};\n")


def _histograms(counts_by_channel, limits):
    rows = []
    for counts, limit in zip(counts_by_channel, limits):
        nonzero = np.flatnonzero(counts)
        first = int(nonzero[0]) if len(nonzero) else 0
        last = int(nonzero[-1]) + 1 if len(nonzero) else 0
        rows.append([_number(limit), first,
                     [int(v) for v in counts[first:last]]])
    return rows


def _copy_assets(path, title):
    templates = resources.files("keras_zfnet.plotting.browser") / "templates"
    os.makedirs(os.path.join(path, FILES, "assets"), exist_ok=True)
    for name in ("browser.css", "browser.js"):
        with open(os.path.join(path, FILES, "assets", name), "w",
                  encoding="utf-8") as f:
            f.write((templates / name).read_text(encoding="utf-8"))
    page = (templates / "index.html").read_text(encoding="utf-8")
    with open(os.path.join(path, "index.html"), "w", encoding="utf-8") as f:
        f.write(page.replace("{{title}}", html.escape(title)))


def write_site(layers, images, output_dir, *, model_name, input_shape,
               scanned, labels=None, class_names=None, display=None,
               max_tile=96, title=None, overwrite=False, image_format="auto",
               verbose="auto"):
    """Renders the unit browser's data as a static site in `output_dir`.

    The data is computed by `keras_zfnet.analysis._utils.browse_data.
    browse_layers`; this function only renders arrays and writes files.

    Args:
        layers: one entry per layer with `name`, `map_shape`, `values`,
            `indices`, `positions`, `boxes`, `receptive_field`,
            `histogram_counts`, `histogram_limits`, `silent`, `bins` and
            `projections()` (see `LayerData`).
        images: dict from dataset index to the model-input image of every
            top-k entry.
        output_dir: the site's folder (see `check_site_dir`).
        model_name: the model's name.
        input_shape: the model's input shape `(H, W, C)`.
        scanned: number of images scanned.
        labels: optional dict from dataset index to integer label.
        class_names: optional names by label.
        display: the model's preprocessing to undo on the patches.
        max_tile: largest tile side in pixels (larger receptive fields are
            downscaled).
        title: the page title (default: from the model's name).
        overwrite: write into a folder that is not a previous site.
        image_format: sprite sheets as `"png"`, `"jpeg"`, or `"auto"`
            (PNG for 1-channel inputs, JPEG for colour).
        verbose: `"auto"`, 0 or 1.

    Returns:
        The path of the site's `index.html`.
    """
    image_format = check_image_format(image_format)
    if image_format == "auto":
        image_format = "png" if input_shape[-1] == 1 else "jpeg"
    title = title or f"Units of {model_name}"
    path = check_site_dir(output_dir, overwrite)
    with atomic.atomic_folder(path, overwrite, MARKER, what=SITE) as folder:
        for name in ("data", "sprites"):
            os.makedirs(os.path.join(folder, FILES, name))
        entries = []
        bar = progress.bar(len(layers), verbose, unit_name="layer")
        ids = _layer_ids([layer.name for layer in layers])
        for layer, layer_id in zip(layers, ids):
            entries.append(_write_layer(folder, layer, layer_id, images,
                                        labels, display, max_tile,
                                        image_format))
            bar.add(1)
        site = {
            "format": FORMAT, "title": title, "model": model_name,
            "input_shape": [int(d) for d in input_shape],
            "scanned": int(scanned), "k": int(layers[0].indices.shape[1]),
            "bins": int(layers[0].bins),
            "class_names": None if class_names is None else [
                str(c) for c in class_names],
            "layers": entries,
        }
        with open(os.path.join(folder, FILES, "data", "site.js"), "w",
                  encoding="utf-8") as f:
            f.write(_script("KZ_SITE", None, site))
        _copy_assets(folder, title)
        with open(os.path.join(folder, MARKER), "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, "model": model_name,
                       "layers": [layer.name for layer in layers]}, f,
                      indent=1)
    return os.path.join(path, "index.html")


def _write_layer(path, layer, layer_id, images, labels, display, max_tile,
                 image_format):
    """Writes one layer's sprite sheets and data script; returns its entry
    of `site.js`."""
    rf = layer.receptive_field
    tile = tiles.tile_shape(rf["size"], max_tile)
    projections, patches = tiles.render_layer(layer, images, display, tile)
    sprites = os.path.join(path, FILES, "sprites")
    sheets = tiles.write_sheets(projections, patches, sprites, layer_id,
                                f"{FILES}/sprites", image_format)
    thumbs = tiles.write_thumbnails(projections, sprites, layer_id,
                                    f"{FILES}/sprites", image_format)
    units = {
        "name": layer.name, "sheets": sheets,
        "values": [[_number(v) for v in row] for row in layer.values],
        "indices": layer.indices.tolist(),
        "positions": layer.positions.tolist(),
        "labels": (None if labels is None else [
            [labels.get(int(i)) for i in row] for row in layer.indices]),
        "hist": _histograms(layer.histogram_counts, layer.histogram_limits),
        "silent": layer.silent.tolist(),
    }
    with open(os.path.join(path, FILES, "data", f"{layer_id}.js"), "w",
              encoding="utf-8") as f:
        f.write(_script("KZ_LAYERS", layer.name, units))
    return {
        "name": layer.name, "id": layer_id,
        "map": [int(d) for d in layer.map_shape],
        "channels": int(layer.indices.shape[0]),
        "dead": [int(c) for c in np.flatnonzero(layer.values[:, 0] <= 0)],
        "rf": {key: [int(v) for v in rf[key]]
               for key in ("size", "jump", "start")},
        "tile": list(tile), "thumbs": thumbs,
        "script": f"{FILES}/data/{layer_id}.js",
    }


def read_unit(output_dir, layer, channel):
    """The data the site holds for one unit (for checks and scripts).

    Returns:
        A dict with `values (k,)`, `indices (k,)`, `positions (k, 2)`,
        `labels`, `histogram` (`limit`, `first`, `counts`), `silent`,
        `projections` and `patches` (`(k, rows, cols[, 3])` uint8, cut from
        the sprite sheets).
    """
    Image = require("PIL.Image", "plot", "read_unit")

    with open(os.path.join(output_dir, FILES, "data", "site.js"),
              encoding="utf-8") as f:
        site = json.loads(f.read().split("=", 1)[1].strip().rstrip(";"))
    entry = next(item for item in site["layers"] if item["name"] == layer)
    with open(os.path.join(output_dir, entry["script"]),
              encoding="utf-8") as f:
        units = json.loads(f.read().split("] = ", 1)[1].strip().rstrip(";"))
    sheet = next(s for s in units["sheets"]
                 if s["first"] <= channel < s["first"] + s["count"])
    pixels = np.asarray(Image.open(os.path.join(output_dir, sheet["file"])))
    rows, cols = entry["tile"]
    k = site["k"]
    row = pixels[(channel - sheet["first"]) * rows:
                 (channel - sheet["first"] + 1) * rows]
    cut = [row[:, j * cols:(j + 1) * cols] for j in range(2 * k)]
    limit, first, counts = units["hist"][channel]
    return {
        "values": np.asarray(units["values"][channel], "float32"),
        "indices": np.asarray(units["indices"][channel], "int64"),
        "positions": np.asarray(units["positions"][channel], "int32"),
        "labels": (None if units["labels"] is None
                   else units["labels"][channel]),
        "histogram": {"limit": limit, "first": first, "counts": counts},
        "silent": units["silent"][channel],
        "projections": np.stack(cut[:k]), "patches": np.stack(cut[k:]),
        "dead": channel in entry["dead"],
    }
