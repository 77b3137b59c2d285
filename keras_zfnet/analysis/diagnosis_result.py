"""Result objects of `diagnose`: `Finding` and `Diagnosis`."""

import dataclasses

import numpy as np

from keras_zfnet.analysis._utils.result_files import SavedResult

KINDS = ("dead_filters", "dominant_filters", "frequency_gap", "aliasing")


@dataclasses.dataclass(frozen=True)
class Finding(SavedResult):
    """One problem `diagnose` found, with what to do about it.

    Plain data: `to_npz(path)` / `Finding.from_npz(path)` save and load it
    (a `Diagnosis` file holds its findings).

    Attributes:
        kind: `"dead_filters"`, `"dominant_filters"`, `"frequency_gap"` or
            `"aliasing"`.
        severity: `"low"`, `"medium"` or `"high"`.
        value: the measured value that crossed `threshold`.
        threshold: the threshold it crossed.
        channels: the filters at fault (indices into the diagnosed layer's
            filters; empty for layer-wide findings such as aliasing).
        message: what was measured, in words.
        recommendation: what to change.

    Example:

    >>> finding = kz.diagnose(model).findings[0]
    >>> path = finding.to_npz("finding.npz")
    >>> kz.analysis.Finding.from_npz(path) == finding
    True
    """

    kind: str
    severity: str
    value: float
    threshold: float
    channels: tuple
    message: str
    recommendation: str

    def __repr__(self):
        return (f"Finding({self.kind}, {self.severity}, value={self.value:.4g}"
                f", threshold={self.threshold:.4g}, "
                f"channels={list(self.channels)})")


@dataclasses.dataclass(frozen=True, eq=False)
class Diagnosis(SavedResult):
    """What `diagnose` measured on a model's first layers (paper Sec. 4.1).

    Plain data (arrays, numbers and names, no model): `to_npz(path)` saves
    every field, the findings and all `measures` included, and
    `Diagnosis.from_npz(path)` loads it back equal; `str()`, `.finding()`
    and `.plot()` work the same on a loaded diagnosis.

    Attributes:
        findings: tuple of `Finding`, the problems found (may be empty).
        measures: dict of every number measured, flagged or not: per-band
            energy shares, RMS spread, dead counts, aliasing score...
        layer: the diagnosed (first) convolution layer.
        second_layer: the convolution layer after it, whose projections
            show aliasing (`None` when there is none).
        filters: the diagnosed layer's kernel `(kh, kw, C, F)`.
        projections: `(K, H, W, C)` deconvnet projections of the whole
            maps of the K strongest channels of `second_layer`, each on the
            image that activates it most (`None` without images).
        projection_channels: `(K,)` the channels of `projections`.
        model_name: the model's name.

    Example:

    >>> diagnosis = kz.diagnose(model, x[:64])
    >>> path = diagnosis.to_npz("diagnosis.npz")
    >>> print(kz.analysis.Diagnosis.from_npz(path))
    """

    findings: tuple
    measures: dict
    layer: str
    second_layer: object
    filters: np.ndarray
    projections: object
    projection_channels: object
    model_name: str

    @property
    def kinds(self):
        """The kinds of the findings, in order."""
        return [finding.kind for finding in self.findings]

    def finding(self, kind):
        """The finding of `kind`, or `None` when it was not flagged."""
        if kind not in KINDS:
            raise ValueError(
                f"`kind` must be one of {list(KINDS)}. Received: kind={kind!r}"
            )
        for finding in self.findings:
            if finding.kind == kind:
                return finding
        return None

    def __repr__(self):
        kinds = ", ".join(self.kinds) or "no findings"
        return f"<Diagnosis of '{self.model_name}' ({self.layer}): {kinds}>"

    def __str__(self):
        m = self.measures
        lines = [f"Diagnosis of '{self.model_name}', first layer "
                 f"'{self.layer}' {tuple(self.filters.shape)}, "
                 f"stride {m['stride']}"]
        lines.append(
            f"  filter RMS: median {m['rms_median']:.4g}, max "
            f"{m['rms_max']:.4g} (max/median {m['rms_spread']:.3g})")
        lines.append(
            "  spectral energy: low {:.1%}, mid {:.1%}, high {:.1%}".format(
                m["band_low"], m["band_mid"], m["band_high"]))
        lines.append(
            f"  dead filters: {m['dead_by_norm']} by norm"
            + (f", {m['never_active']} never active on {m['images']} images"
               if m.get("never_active") is not None else ""))
        if m.get("aliasing") is not None:
            lines.append(
                f"  aliasing of '{self.second_layer}' projections at period "
                f"{m['aliasing_period']}: {m['aliasing']:.3g} (input images: "
                f"{m['aliasing_input']:.3g})")
        elif m.get("aliasing_note"):
            lines.append(f"  aliasing: {m['aliasing_note']}")
        if not self.findings:
            lines.append("  no problem found")
        for f in self.findings:
            lines.append(f"  [{f.severity}] {f.kind}: {f.message}")
            lines.append(f"      -> {f.recommendation}")
        return "\n".join(lines)

    def plot(self, compare=None, titles=None):
        """Draws paper Fig. 6: the first-layer filters and the second-layer
        projections, side by side with `compare` (another `Diagnosis`).

        Returns:
            A `matplotlib.figure.Figure`.
        """
        from keras_zfnet.plotting.diagnosis import plot_diagnosis

        diagnoses = [self] if compare is None else [self, compare]
        return plot_diagnosis(diagnoses, titles)
