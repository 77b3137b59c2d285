"""Setup for keras-zfnet."""

import os

from setuptools import find_namespace_packages
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = {}
with open(os.path.join(HERE, "keras_zfnet", "version.py")) as f:
    exec(f.read(), VERSION)

with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
    LONG_DESCRIPTION = f.read()

# Keras backends. The TensorFlow ones come from an extra ("cpu", "gpu" or
# "tf") so that pip does not replace an installed tensorflow / tensorflow-cpu.
BACKENDS = {
    "tensorflow": ["tensorflow>=2.16"],
    "tf": ["tensorflow>=2.16"],
    "cpu": ["tensorflow-cpu>=2.16"],
    "gpu": ["tensorflow[and-cuda]>=2.16"],
    "jax": ["jax", "jaxlib"],
    "torch": ["torch"],
}
# Optional features: each names what needs it.
FEATURES = {
    # The figures (matplotlib) and images read or written (Pillow: CLI
    # image folders, unit browser sheets, labelled PNGs).
    "plot": ["matplotlib", "pillow"],
    # Frozen-feature linear probes, mean average precision and the digits
    # data set (Sec. 5.2 transfer).
    "transfer": ["scikit-learn"],
    # keras_zfnet.datasets' TFDS sources (Caltech-101/256, VOC 2012).
    "tfds": ["tensorflow-datasets"],
    # The callbacks' TensorBoard images and scalars.
    "tensorboard": ["tensorboard"],
}
EXTRAS = {
    **BACKENDS,
    **FEATURES,
    # Every optional feature, but no backend: pick one alongside it, e.g.
    # `pip install "keras-zfnet[cpu,all]"` or `"keras-zfnet[jax,all]"`.
    "all": sorted({r for reqs in FEATURES.values() for r in reqs}),
    # nbclient / ipykernel run the notebooks; playwright drives the
    # system chromium for the report's browser checks.
    "test": ["pytest>=7", "pytest-xdist", "nbclient", "nbformat",
             "ipykernel", "playwright"],
    "notebooks": ["nbformat", "nbclient", "ipykernel"],
    # keras-hub backbones in tests/deconv/test_zoo.py (skipped without
    # it: it pins tensorflow-text, so CI's environment leaves it out).
    "hub": ["keras-hub"],
}

setup(
    name="keras-zfnet",
    version=VERSION["__version__"],
    description=(
        "Zeiler & Fergus (ECCV 2014) for Keras 3: ZFNet, a deconvnet for any "
        "Keras CNN, and the paper's visualization toolkit."
    ),
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # Namespace discovery so that the data folders (class names, shipped
    # weights, the Fashion-MNIST sample, report templates) ship too.
    packages=find_namespace_packages(
        include=["keras_zfnet", "keras_zfnet.*"],
        exclude=["*.__pycache__"],
    ),
    package_data={"": ["*.json", "*.npz", "*.h5", "*.html", "*.css", "*.js", "*.csv"]},
    # The deconvnet, the scans and the analyses need only Keras and NumPy;
    # everything else is an extra, and code that needs one says which
    # (`keras_zfnet.utils.extras.require`).
    install_requires=[
        "keras>=3.3",
        "numpy",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["keras-zfnet=keras_zfnet.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
