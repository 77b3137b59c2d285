"""Reading the shipped feature-evolution records."""

from keras_zfnet.applications.evolution_records import evolution_record_path
from keras_zfnet.callbacks.history_io import load_history


def load_evolution_record(name="fashion_mnist", return_images=False):
    """A shipped `FeatureEvolution` history (hash-verified), e.g. to draw
    Fig. 4 without training.

    Args:
        name: the record's name (`"fashion_mnist"`: the `fashion_mnist`
            preset's training recipe).
        return_images: also return `{probe index: image}` of the probe
            images the record refers to.

    Returns:
        `{epoch: {layer: {"channels", "values", "indices",
        "projections"}}}`, the structure of `FeatureEvolution.history`;
        with `return_images`, `(history, images)`.

    Example:

    >>> history, images = load_evolution_record("fashion_mnist",
    ...                                         return_images=True)
    >>> from keras_zfnet.plotting.evolution import plot_evolution
    >>> plot_evolution(history, images).savefig("fig4.png")
    """
    return load_history(evolution_record_path(name), return_images)
