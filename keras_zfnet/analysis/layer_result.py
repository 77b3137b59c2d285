"""The result of `layer_analysis`: rows of mean +- std over random splits."""

import csv
import io
import dataclasses

import numpy as np

from keras_zfnet.analysis._utils.result_files import SavedResult

SCRATCH = "scratch"
PIXELS = "pixels"
SPLIT_FIELDS = ("classifier", "layer", "per_class", "split", "seed", "metric",
                "test_score", "validation_score", "C", "cv_folds",
                "chosen_on_validation")


@dataclasses.dataclass(frozen=True)
class LayerAnalysis(SavedResult):
    """Per-layer transfer scores (paper Tables 3-4 and 6).

    Plain data: `to_npz(path)` / `LayerAnalysis.from_npz(path)` save and
    load every field losslessly (`SavedResult`: arrays bit-identical, JSON
    metadata, no pickle); `to_csv(path)` writes the rows, `to_csv(path,
    per_split=True)` one line per split.

    Attributes:
        rows: tuple of dicts, one per (classifier, layer, per_class):
            `classifier` (`"svm"`, `"softmax"`, ... or `"scratch"` for the
            from-scratch baseline), `layer` (the feature layer; `"pixels"`
            for the raw-pixel probe, `"all"` for the baseline), `per_class`,
            `metric`, `mean`, `std` (of the test scores over splits,
            population std), `scores` (`(splits,)` test scores),
            `validation_scores` (`(splits,)`: the probes' mean inner
            cross-validation score at the chosen C, the baseline's score on
            its held-out part; NaN where a split could not be validated),
            `validation_mean` and `C` (`(splits,)` chosen C; NaN for the
            baseline and for estimators used as given).
        metric: `"mean_class_accuracy"` or `"mean_average_precision"`.
        layers: the analysed layers, in order.
        per_class: the training-set sizes per class.
        splits: the number of random splits.
        baseline_runs: per split of the scratch baseline, a dict with
            `per_class`, `split`, `score` and the chosen `optimizer`,
            `learning_rate`, `weight_decay`, `validation_score`, `epochs`
            and `steps`.
        train_indices: dict `(per_class, split) -> ` sorted positions in
            `data` of that split's training images.
        test_indices: dict `(per_class, split) -> ` positions of its test
            images (in `data`, or in `test_data` when given).
        validation_folds: dict `(per_class, split) -> ` the inner
            cross-validation fold of each training image (aligned with
            `train_indices`; all -1 when a class had a single image and C
            was fixed).
        validation_curves: dict `(classifier, layer, per_class) -> `
            `(splits, len(probe_grid))` mean validation score of every C
            (`(splits, 1)` for an estimator used as given).
        probe_grid: the C values searched.
        seed: the seed of the splits.
    """

    rows: tuple
    metric: str
    layers: tuple
    per_class: tuple
    splits: int
    baseline_runs: tuple = ()
    train_indices: dict = dataclasses.field(default_factory=dict, repr=False)
    test_indices: dict = dataclasses.field(default_factory=dict, repr=False)
    validation_folds: dict = dataclasses.field(default_factory=dict,
                                               repr=False)
    validation_curves: dict = dataclasses.field(default_factory=dict,
                                                repr=False)
    probe_grid: tuple = ()
    seed: object = None

    def row(self, classifier, layer, per_class):
        """The row of one (classifier, layer, per_class), or `KeyError`."""
        for row in self.rows:
            if (row["classifier"], row["layer"], row["per_class"]) == (
                    classifier, layer, per_class):
                return row
        raise KeyError((classifier, layer, per_class))

    def best_layer(self, classifier, per_class):
        """The layer chosen on validation data, never on the test images.

        In each split, the layer (of `layers`; not the pixel control) with
        the best inner cross-validation score on that split's training
        images is chosen (a tie goes to the earlier layer), and its test
        score on that split is kept: the mean of those is an honest estimate
        of "the best layer". `layer` names the layer chosen most often (a
        tie goes to the higher mean validation score).

        Returns:
            A dict `classifier`, `per_class`, `layer`, `count` (splits that
            chose it), `layers` (the choice of each split), `scores` and
            `validation_scores` (`(splits,)`, of each split's choice),
            `mean`, `std` (of `scores`) and `validation_mean`.

        Raises:
            ValueError: for the scratch baseline or an unknown classifier or
                size, or when a split has no validation score (a class with
                a single training image: C was fixed, nothing validated).
        """
        probes = [c for c in self.classifiers if c != SCRATCH]
        if classifier not in probes or per_class not in self.per_class:
            raise ValueError(
                f"`best_layer` takes a probe classifier among {probes} and "
                f"a size among {list(self.per_class)}. Received: "
                f"classifier={classifier!r}, per_class={per_class!r}")
        rows = [self.row(classifier, layer, per_class)
                for layer in self.layers]
        validation = np.stack([r["validation_scores"] for r in rows])
        unvalidated = np.flatnonzero(~np.isfinite(validation).any(axis=0))
        if unvalidated.size:
            raise ValueError(
                f"Splits {unvalidated.tolist()} at {per_class}/class have no "
                "validation score (a class with a single training image "
                "cannot be cross-validated), so no layer can be chosen "
                f"without the test images. Received: per_class={per_class}")
        picks = np.nanargmax(validation, axis=0)
        counts = np.bincount(picks, minlength=len(rows))
        tied = np.flatnonzero(counts == counts.max())
        means = [rows[i]["validation_mean"] for i in tied]
        chosen = int(tied[int(np.nanargmax(means))]
                     if np.isfinite(means).any() else tied[0])
        split = np.arange(validation.shape[1])
        scores = np.array([rows[p]["scores"][s] for s, p in zip(split,
                                                                 picks)])
        return dict(classifier=classifier, per_class=per_class,
                    layer=self.layers[chosen], count=int(counts[chosen]),
                    layers=tuple(self.layers[p] for p in picks),
                    scores=scores, mean=float(scores.mean()),
                    std=float(scores.std()),
                    validation_scores=validation[picks, split],
                    validation_mean=float(validation[picks, split].mean()))

    def _best_or_none(self, classifier, per_class):
        try:
            return self.best_layer(classifier, per_class)
        except (ValueError, KeyError):
            return None

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

    def to_markdown(self, percent=True, best=True):
        """A Markdown table: one row per (classifier, layer), one column per
        training-set size, cells `mean ± std` of the test scores.

        With `best`, the layer each probe classifier chooses on validation
        data (`best_layer`) is in bold, and a row "chosen on validation"
        gives the test score of each split's own choice, with the layer
        (and in how many splits it was chosen when they differ).
        """
        scale = 100.0 if percent else 1.0
        digits = 1 if percent else 3

        def cell(mean, std):
            return (f"{scale * mean:.{digits}f} ± "
                    f"{scale * std:.{digits}f}")

        header = ["classifier", "layer"] + [f"{k}/class"
                                            for k in self.per_class]
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] * 2 + ["---:"] * len(self.per_class))
                 + "|"]
        for classifier in self.classifiers:
            picks = {k: self._best_or_none(classifier, k) if best and
                     classifier != SCRATCH else None for k in self.per_class}
            layers = []
            for row in self.rows:
                if row["classifier"] == classifier and \
                        row["layer"] not in layers:
                    layers.append(row["layer"])
            for layer in layers:
                cells = []
                for k in self.per_class:
                    try:
                        r = self.row(classifier, layer, k)
                    except KeyError:
                        cells.append("")
                        continue
                    text = cell(r["mean"], r["std"])
                    chosen = picks[k] is not None and \
                        picks[k]["layer"] == layer
                    cells.append(f"**{text}**" if chosen else text)
                lines.append("| " + " | ".join([classifier, layer, *cells])
                             + " |")
            if any(p is not None for p in picks.values()):
                cells = ["" if p is None else
                         f"{cell(p['mean'], p['std'])} ({p['layer']}"
                         + ("" if p["count"] == self.splits else
                            f" {p['count']}/{self.splits}") + ")"
                         for p in picks.values()]
                lines.append("| " + " | ".join(
                    [classifier, "chosen on validation", *cells]) + " |")
        return "\n".join(lines)

    def split_rows(self):
        """One dict per (classifier, layer, per_class, split) with the
        fields of `to_csv(per_split=True)`: `test_score`,
        `validation_score`, `C`, `cv_folds` (inner folds; None for the
        baseline, whose validation is a held-out part) and
        `chosen_on_validation` (whether `best_layer` chose this layer in
        this split)."""
        picks = {}
        out = []
        for row in self.rows:
            c, layer, k = row["classifier"], row["layer"], row["per_class"]
            if (c, k) not in picks and c != SCRATCH:
                picks[(c, k)] = self._best_or_none(c, k)
            pick = picks.get((c, k))
            for s, score in enumerate(row["scores"]):
                folds = self.validation_folds.get((k, s))
                out.append(dict(
                    classifier=c, layer=layer, per_class=k, split=s,
                    seed=self.seed, metric=row["metric"],
                    test_score=float(score),
                    validation_score=float(row["validation_scores"][s]),
                    C=float(row["C"][s]),
                    cv_folds=None if c == SCRATCH or folds is None else
                    int(np.unique(folds[folds >= 0]).size),
                    chosen_on_validation=bool(
                        pick is not None and pick["layers"][s] == layer)))
        return out

    def to_csv(self, path=None, per_split=False):
        """The rows as CSV, written to `path`, or returned as a string when
        `path` is None.

        Without `per_split`: one line per row, per-split test scores
        `;`-joined. With `per_split`: one line per (classifier, layer,
        per_class, split), the fields of `split_rows()` (floats in full
        precision; empty for NaN or None).

        Returns:
            `path`, or the CSV text.
        """
        write = self._write_splits if per_split else self._write_csv
        if path is None:
            buffer = io.StringIO()
            write(buffer)
            return buffer.getvalue()
        with open(path, "w", newline="") as f:
            write(f)
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

    def _write_splits(self, f):
        writer = csv.DictWriter(f, fieldnames=SPLIT_FIELDS)
        writer.writeheader()
        for row in self.split_rows():
            writer.writerow({key: _csv_value(value)
                             for key, value in row.items()})

    def plot(self, ax=None):
        """Score against layer, one line per classifier and training-set
        size, the scratch baseline dashed (see
        `keras_zfnet.plotting.plot_layer_analysis`)."""
        from keras_zfnet.plotting.layer_analysis import plot_layer_analysis

        return plot_layer_analysis(self, ax=ax)

    def __repr__(self):
        text = (f"<LayerAnalysis {self.metric}: {len(self.layers)} layers x "
                f"{len(self.classifiers)} classifiers x per_class "
                f"{self.per_class}, {self.splits} splits")
        picks = [self._best_or_none(c, max(self.per_class))
                 for c in self.classifiers if c != SCRATCH]
        picks = [p for p in picks if p is not None]
        if picks:
            best = max(picks, key=lambda p: p["validation_mean"])
            text += (f"; chosen on validation: {best['classifier']} on "
                     f"{best['layer']} at {best['per_class']}/class, test "
                     f"{best['mean']:.3f} ± {best['std']:.3f}")
        return text + ">"


def _csv_value(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return int(value)
    return repr(value) if isinstance(value, float) else value
