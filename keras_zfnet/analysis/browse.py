"""`browse`: every unit of every layer, browsable offline (DeepVis-style)."""

import keras
import numpy as np

from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.analysis._utils.browse_data import browse_layers
from keras_zfnet.analysis._utils.browse_scan import DEFAULT_BINS
from keras_zfnet.analysis._utils.browse_scan import browse_scan
from keras_zfnet.analysis._utils.browse_scan import check_not_empty
from keras_zfnet.analysis._utils.browse_scan import check_spatial_layers
from keras_zfnet.deconv.receptive_field import receptive_field
from keras_zfnet.utils import validation


def browse(model, data, layers=None, k=9, output_dir="keras_zfnet_units",
           class_names=None, display=None, batch_size=64, labels=None,
           max_tile=96, overwrite=False, image_format="auto",
           verbose="auto"):
    """Writes a static web site to browse every unit of the chosen layers.

    One streaming scan over `data` finds, for every channel of every layer,
    its top-`k` activations and the histogram of its per-image maximum;
    then every entry is projected to pixel space with the deconvnet and cut
    to its receptive field next to the image patch it sees (paper Fig. 2,
    for all units, as the deep-visualization toolbox shows them). The site
    opens from `file://` with no server and no external assets:

    - `index.html`: the layers (map size, channels, receptive field, dead
      units);
    - `index.html#conv5`: a grid of every channel with its top-1 projection
      (dead channels, never active on `data`, marked and counted);
    - `index.html#conv5/31`: the unit's top-k projections beside their
      patches, activation values, image indices (and class names), and a
      histogram of its maximum activation over `data`.

    Arrow keys move to the previous / next unit (left / right) and back to
    the layer (up); the search box jumps to a channel number.

    Args:
        model: a Keras Sequential or functional chain CNN (the deconvnet's
            supported layers).
        data: the images as the model expects them: a NumPy array
            `(N, H, W, C)`, a `tf.data.Dataset` of images or
            `(images, labels)`, or a `keras.utils.PyDataset`. Any length;
            memory stays constant during the scan.
        layers: layers with spatial maps (names, nested paths or layer
            objects); `None` for every convolution layer.
        k: top activations per unit (paper: 9).
        output_dir: the site's folder. It must not exist, be empty, or hold
            a previous browser site (replaced), unless `overwrite=True`.
        class_names: names of the labels (shown beside image indices).
        display: the model's preprocessing to undo on the patches (`None`:
            per-image min-max; a family such as `"vgg16"`; a function
            returning 0..255 pixels).
        batch_size: batch size for the scan and the projections.
        labels: per-image integer labels of a NumPy `data` (for datasets
            yielding `(images, labels)` they are read from `data`).
        max_tile: largest side of a tile in pixels; larger receptive fields
            are downscaled.
        overwrite: write into an existing folder that is not a browser site
            (only the site's own files are replaced).
        image_format: sprite sheets as `"png"` (lossless), `"jpeg"`
            (smaller for photographs) or `"auto"` (PNG for 1-channel
            inputs, JPEG for colour).
        verbose: `"auto"`, 0 or 1 (progress bars).

    Returns:
        The path of the site's `index.html`.

    Example:

    >>> model = kz.MiniZFNet(weights="fashion_mnist")
    >>> (_, _), (x_test, y_test) = kz.datasets.fashion_mnist.load_data()
    >>> kz.browse(model, x_test[:1000], k=9, output_dir="units",
    ...           labels=y_test[:1000],
    ...           class_names=kz.datasets.fashion_mnist.CLASS_NAMES)
    'units/index.html'
    """
    from keras_zfnet.plotting.browser import site
    from keras_zfnet.plotting.display import undo_preprocessing

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` must be an integer >= 1. Received: k={k!r}")
    batch_size = validation.check_batch_size(batch_size)
    if isinstance(max_tile, bool) or not isinstance(
            max_tile, (int, np.integer)) or max_tile < 1:
        raise ValueError(
            f"`max_tile` must be an integer >= 1. Received: max_tile="
            f"{max_tile!r}")
    names = check_spatial_layers(model, layers)
    for name in names:
        receptive_field(model, name)  # a clear error for unsupported layers
    check_not_empty(data)
    if display is not None:
        undo_preprocessing(np.zeros((1, 1, 3), "float32"), display)
    labels = _check_labels(labels, data)
    if class_names is not None and (isinstance(class_names, str) or not all(
            isinstance(c, str) for c in class_names)):
        raise ValueError(
            "`class_names` must be a list of strings (one per label). "
            f"Received: class_names={class_names!r}")
    if (class_names is not None and labels is not None and len(labels)
            and int(labels.max()) >= len(class_names)):
        raise ValueError(
            f"`labels` go up to {int(labels.max())} but `class_names` names "
            f"{len(class_names)} classes. Received: {len(class_names)} "
            "class_names")
    if isinstance(data, np.ndarray) and len(data) < k:
        raise ValueError(
            f"`k` must be at most the number of images ({len(data)}): every "
            f"unit shows its top k. Received: k={k}")
    site.check_image_format(image_format)
    path = site.check_site_dir(output_dir, overwrite)
    scan = browse_scan(model, data, names, k=int(k), bins=DEFAULT_BINS,
                       batch_size=batch_size, verbose=verbose)
    if scan.scanned < k:
        raise ValueError(
            f"`k` must be at most the number of images ({scan.scanned} in "
            f"`data`). Received: k={k}")
    if labels is not None and len(labels) != scan.scanned:
        raise ValueError(
            f"`labels` must have one label per image ({scan.scanned} in "
            f"`data`). Received: {len(labels)} labels")
    wanted = np.concatenate([scan.top[n].indices.ravel() for n in names])
    found = _labels_at(data, wanted, labels, batch_size)
    return write_browser(scan, data, path, labels=found,
                         class_names=class_names, display=display,
                         max_tile=int(max_tile), batch_size=batch_size,
                         overwrite=overwrite, image_format=image_format,
                         verbose=verbose)


def write_browser(scan, data, output_dir, labels=None, class_names=None,
                  display=None, max_tile=96, batch_size=64, title=None,
                  overwrite=False, image_format="auto", verbose="auto"):
    """Writes the unit browser of a `BrowseScan` to `output_dir`.

    The projections and patches are computed here (`browse_layers`); the
    site writer (`keras_zfnet.plotting.browser.write_site`) only renders
    them.

    Args:
        scan: a `BrowseScan` (its `TopActivations` carry the model).
        data: the scanned data (only the top-k images are read back).
        output_dir: the site's folder (a missing or empty folder, or a
            previous browser site, unless `overwrite=True`).
        labels: optional dict from dataset index to integer label.
        class_names: optional names by label.
        display: the model's preprocessing to undo on the patches.
        max_tile: largest tile side in pixels.
        batch_size: batch size for reading data and projecting.
        title: the page title (default: from the model's name).
        overwrite: write into a folder that is not a previous site.
        image_format: sprite sheets as `"png"`, `"jpeg"` or `"auto"`.
        verbose: `"auto"`, 0 or 1.

    Returns:
        The path of the site's `index.html`.
    """
    from keras_zfnet.plotting.browser import site

    path = site.check_site_dir(output_dir, overwrite)
    site.check_image_format(image_format)
    first = scan.top[scan.layers[0]]
    images, layers = browse_layers(scan, data, batch_size)
    return site.write_site(
        layers, images, path, model_name=first.model.name,
        input_shape=first.image_shape, scanned=scan.scanned, labels=labels,
        class_names=class_names, display=display, max_tile=max_tile,
        title=title, overwrite=overwrite, image_format=image_format,
        verbose=verbose)


def _check_labels(labels, data):
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.ndim == 2:  # one-hot
        array = array.argmax(axis=1)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "`labels` must be a 1-D array of integer labels (or one-hot "
            f"rows). Received: labels with shape {array.shape} and dtype "
            f"{array.dtype}")
    if isinstance(data, np.ndarray) and len(array) != len(data):
        raise ValueError(
            f"`labels` must have one label per image ({len(data)}). "
            f"Received: {len(array)} labels")
    return array


def _as_label(value):
    value = np.asarray(value)
    return int(value.argmax()) if value.ndim else int(value)


def _labels_at(data, wanted, labels, batch_size):
    """Dict from dataset index to label for the `wanted` indices (from
    `labels`, or from `(images, labels)` elements of `data`), or None."""
    wanted = {int(i) for i in np.ravel(wanted) if i >= 0}
    if labels is not None:
        return {i: int(labels[i]) for i in wanted if i < len(labels)}
    if data_stream.is_tf_dataset(data):
        spec = data.element_spec
        if not isinstance(spec, (tuple, list)) or len(spec) < 2:
            return None
        batched = len(spec[0].shape) == 4
        stream = data.map(lambda *e: e[1])
        found, position = {}, 0
        for batch in stream.as_numpy_iterator():
            items = batch if batched else [batch]
            for item in items:
                if position in wanted:
                    found[position] = _as_label(item)
                position += 1
            if len(found) == len(wanted):
                break
        return found
    if isinstance(data, keras.utils.PyDataset) or data_stream.is_torch_loader(
            data):
        found, position = {}, 0
        elements = (data[index] for index in range(len(data))) if isinstance(
            data, keras.utils.PyDataset) else iter(data)
        for element in elements:
            if not isinstance(element, (tuple, list)) or len(element) < 2:
                return None
            labels = element[1]
            if hasattr(labels, "detach"):
                labels = labels.detach().cpu().numpy()
            for item in np.asarray(labels):
                if position in wanted:
                    found[position] = _as_label(item)
                position += 1
        return found
    return None

