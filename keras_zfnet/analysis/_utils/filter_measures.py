"""NumPy measures of convolution filters and projections (for `diagnose`).

Each function takes arrays, never a model, so it can be checked on
constructed kernels whose answers are known.
"""

import numpy as np

# Radial frequency bands, as fractions of the Nyquist frequency (0.5 cycles
# per pixel): low [0, 1/3), mid [1/3, 2/3), high [2/3, sqrt(2)] (the corners
# of the spectrum, e.g. a checkerboard at (0.5, 0.5), count as high).
BAND_EDGES = (1.0 / 3.0, 2.0 / 3.0)
BANDS = ("low", "mid", "high")


def filter_rms(kernel):
    """Root mean square of each filter of a `(kh, kw, C, F)` kernel.

    This is the quantity `FilterRMS` caps (paper Sec. 3: "each filter in
    the convolutional layers whose RMS value exceeds a fixed radius of 1e-1
    is renormalized to this fixed radius").

    Returns:
        `(F,)` float64 array.

    Example:

    >>> filter_rms(np.ones((2, 2, 1, 3)) * [1.0, 2.0, 0.0])
    array([1., 2., 0.])
    """
    kernel = _as_kernel(kernel)
    flat = kernel.reshape(-1, kernel.shape[-1])
    return np.sqrt(np.mean(flat ** 2, axis=0))


def band_shares(kernel, size=32):
    """Share of each filter's spectral energy in the low / mid / high bands.

    The power spectrum of each filter (summed over input channels) is taken
    on a `size x size` zero-padded grid; each frequency bin is assigned to a
    band by its radius `|f| / 0.5` (see `BAND_EDGES`). The constant (DC)
    component counts as low frequency.

    Args:
        kernel: `(kh, kw, C, F)`.
        size: DFT grid size (>= the kernel size).

    Returns:
        `(F, 3)` float64 array of shares (rows sum to 1); all-zero filters
        get NaN rows.

    Example:

    >>> checker = np.indices((4, 4)).sum(0) % 2 * 2.0 - 1
    >>> band_shares(checker[:, :, None, None]).round(2)
    array([[0.  , 0.01, 0.99]])
    """
    kernel = _as_kernel(kernel)
    kh, kw = kernel.shape[:2]
    size = max(int(size), kh, kw)
    spectrum = np.fft.fft2(kernel, s=(size, size), axes=(0, 1))
    power = (np.abs(spectrum) ** 2).sum(axis=2)  # (size, size, F)
    freq = np.fft.fftfreq(size)
    radius = np.hypot(freq[:, None], freq[None, :]) / 0.5
    band = np.digitize(radius, BAND_EDGES)  # 0 low, 1 mid, 2 high
    energy = np.stack(
        [power[band == b].sum(axis=0) for b in range(3)], axis=-1
    )  # (F, 3)
    total = energy.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, energy / total, np.nan)


def phase_energy(images, period):
    """Total energy of `images` at each pixel phase modulo `period`.

    A layer with stride `s` places its filters on a grid of period `s`; when
    its filters are not smooth enough for that stride, the reconstructions
    through it carry a grid (checkerboard) pattern: some pixel phases
    `(row % s, col % s)` get more energy than others (paper Fig. 6d).

    Args:
        images: `(..., H, W, C)` arrays (e.g. deconvnet projections).
        period: the grid period in pixels (the stride).

    Returns:
        `(period, period)` float64 array: the sum of squared values over all
        images, channels and pixels of each phase, divided by the number of
        pixels of that phase.
    """
    array = np.asarray(images, dtype="float64")
    height, width = array.shape[-3:-1]
    energy = (array ** 2).reshape(-1, height, width, array.shape[-1])
    energy = energy.sum(axis=(0, 3))
    out = np.zeros((period, period))
    for a in range(period):
        for b in range(period):
            out[a, b] = energy[a::period, b::period].mean()
    return out


def aliasing_score(images, period):
    """Grid signature of `images` at `period`: the coefficient of variation
    (std / mean) of their `phase_energy` over the `period**2` phases.

    0 for images whose energy is spread evenly over the pixel phases (and,
    by construction, for `period=1`); `sqrt(period**2 - 1)` when all the
    energy sits on one phase (a zero-inserted, unfiltered upsampling).

    Example:

    >>> grid = np.zeros((1, 8, 8, 1)); grid[0, ::2, ::2] = 1.0
    >>> round(float(aliasing_score(grid, 2)), 3)
    1.732
    """
    energy = phase_energy(images, period)
    mean = energy.mean()
    if mean <= 0:
        return 0.0
    return float(energy.std() / mean)


def _as_kernel(kernel):
    kernel = np.asarray(kernel, dtype="float64")
    if kernel.ndim != 4:
        raise ValueError(
            "Expected a convolution kernel of shape (kh, kw, in_channels, "
            f"filters). Received: kernel.shape={kernel.shape}"
        )
    return kernel
