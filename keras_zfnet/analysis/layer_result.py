"""The result of `layer_analysis`: rows of mean +- std over random splits."""

import csv
import io
import dataclasses

import numpy as np

SCRATCH = "scratch"
PIXELS = "pixels"


@dataclasses.dataclass(frozen=True)
class LayerAnalysis:
    """Per-layer transfer scores (paper Tables 3-4 and 6).

    Attributes:
        rows: tuple of dicts, one per (classifier, layer, per_class):
            `classifier` (`"svm"`, `"softmax"`, ... or `"scratch"` for the
            from-scratch baseline), `layer` (the feature layer; `"all"` for
            the baseline), `per_class`, `mean`, `std` (over splits, population
            std), `scores` (`(splits,)` array) and `metric`.
        metric: `"mean_class_accuracy"` or `"mean_average_precision"`.
        layers: the analysed layers, in order.
        per_class: the training-set sizes per class.
        splits: the number of random splits.
        train_indices: dict `(per_class, split) -> ` sorted positions in
            `data` of that split's training images.
        test_indices: dict `(per_class, split) -> ` positions of its test
            images (in `data`, or in `test_data` when given).
        baseline_runs: per split of the scratch baseline, a dict with
            `per_class`, `split`, `score` and the chosen `optimizer`,
            `learning_rate`, `weight_decay`, `validation_score`, `epochs`
            and `steps`.
    """

    rows: tuple
    metric: str
    layers: tuple
    per_class: tuple
    splits: int
    baseline_runs: tuple = ()
    train_indices: dict = dataclasses.field(default_factory=dict, repr=False)
    test_indices: dict = dataclasses.field(default_factory=dict, repr=False)

    def row(self, classifier, layer, per_class):
        """The row of one (classifier, layer, per_class), or `KeyError`."""
        for row in self.rows:
            if (row["classifier"], row["layer"], row["per_class"]) == (
                    classifier, layer, per_class):
                return row
        raise KeyError((classifier, layer, per_class))

    def differences(self, reference="scratch", confidence=0.95):
        """Paired differences over the same splits: each probe row minus the
        `reference` (`"scratch"`: the from-scratch baseline; `"pixels"`: the
        same classifier on raw pixels).

        Returns:
            A list of dicts `classifier`, `layer`, `per_class`, `reference`,
            `mean` (mean paired difference), `low`, `high` (the `confidence`
            t-interval over splits; NaN with a single split), `splits`.
        """
        from scipy import stats

        if reference not in (SCRATCH, PIXELS):
            raise ValueError("`reference` must be 'scratch' or 'pixels'. "
                             f"Received: reference={reference!r}")
        out = []
        for row in self.rows:
            if row["classifier"] == SCRATCH or row["layer"] == reference:
                continue
            try:
                base = (self.row(SCRATCH, "all", row["per_class"])
                        if reference == SCRATCH else
                        self.row(row["classifier"], PIXELS, row["per_class"]))
            except KeyError:
                continue
            diff = row["scores"] - base["scores"]
            mean = float(diff.mean())
            if len(diff) > 1:
                half = float(stats.t.ppf(0.5 + confidence / 2, len(diff) - 1)
                             * diff.std(ddof=1) / np.sqrt(len(diff)))
            else:
                half = float("nan")
            out.append(dict(classifier=row["classifier"], layer=row["layer"],
                            per_class=row["per_class"], reference=reference,
                            mean=mean, low=mean - half, high=mean + half,
                            splits=len(diff)))
        return out

    def means(self, classifier, per_class):
        """`(len(layers),)` mean scores of a classifier, in layer order."""
        return np.array([self.row(classifier, layer, per_class)["mean"]
                         for layer in self.layers])

    @property
    def classifiers(self):
        seen = []
        for row in self.rows:
            if row["classifier"] not in seen:
                seen.append(row["classifier"])
        return tuple(seen)

    def to_markdown(self, percent=True):
        """A Markdown table: one row per (classifier, layer), one column per
        training-set size, cells `mean ± std`."""
        scale = 100.0 if percent else 1.0
        digits = 1 if percent else 3
        header = ["classifier", "layer"] + [f"{k}/class"
                                            for k in self.per_class]
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] * 2 + ["---:"] * len(self.per_class))
                 + "|"]
        done = set()
        for row in self.rows:
            key = (row["classifier"], row["layer"])
            if key in done:
                continue
            done.add(key)
            cells = []
            for k in self.per_class:
                try:
                    r = self.row(*key, k)
                except KeyError:
                    cells.append("")
                    continue
                cells.append(f"{scale * r['mean']:.{digits}f} ± "
                             f"{scale * r['std']:.{digits}f}")
            lines.append("| " + " | ".join([*key, *cells]) + " |")
        return "\n".join(lines)

    def to_csv(self, path=None):
        """The rows as CSV (one per line, per-split scores `;`-joined),
        written to `path`, or returned as a string when `path` is None.

        Returns:
            `path`, or the CSV text.
        """
        if path is None:
            buffer = io.StringIO()
            self._write_csv(buffer)
            return buffer.getvalue()
        with open(path, "w", newline="") as f:
            self._write_csv(f)
        return path

    def _write_csv(self, f):
        fields = ["classifier", "layer", "per_class", "metric", "mean", "std",
                  "scores"]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in self.rows:
            writer.writerow(dict(
                classifier=row["classifier"], layer=row["layer"],
                per_class=row["per_class"], metric=row["metric"],
                mean=f"{row['mean']:.6f}", std=f"{row['std']:.6f}",
                scores=";".join(f"{s:.6f}" for s in row["scores"])))

    def plot(self, ax=None):
        """Score against layer, one line per classifier and training-set
        size, the scratch baseline dashed (see
        `keras_zfnet.plotting.plot_layer_analysis`)."""
        from keras_zfnet.plotting.layer_analysis import plot_layer_analysis

        return plot_layer_analysis(self, ax=ax)

    def __repr__(self):
        best = max((r for r in self.rows if r["classifier"] != SCRATCH),
                   key=lambda r: r["mean"], default=None)
        text = (f"<LayerAnalysis {self.metric}: {len(self.layers)} layers x "
                f"{len(self.classifiers)} classifiers x per_class "
                f"{self.per_class}, {self.splits} splits")
        if best is not None:
            text += (f"; best {best['classifier']} on {best['layer']} at "
                     f"{best['per_class']}/class: {best['mean']:.3f} ± "
                     f"{best['std']:.3f}")
        return text + ">"
