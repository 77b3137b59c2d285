"""Results as data: lossless `.npz` files for the analyses' result objects.

`SavedResult` is a small base class of the frozen result dataclasses
(`OcclusionResult`, `Diagnosis`, `Finding`, `InvarianceResult`,
`CorrespondenceResult`): it gives them `to_npz(path)` and
`Cls.from_npz(path)`. A file holds

- `format`: `"keras_zfnet.<ClassName>/1"`, checked on loading (a file of
  another kind is refused with what was expected and what was found);
- each top-level array field under its own name (`np.load(path)["probability"]`
  reads it without keras_zfnet), arrays nested in dicts, lists or tuples
  under `"<field>.<n>"`;
- `metadata`: a JSON string with every other value (strings, numbers,
  `None`, tuples, lists, dicts with any keys, nested saved results) and
  references to the arrays.

Arrays come back bit-identical with their dtypes, numpy scalars as numpy
scalars, tuples as tuples. Nothing is pickled (files are read with
`allow_pickle=False`); only the registered result classes are ever built
from a file. Writes are atomic (`checkpoints.save_npz`).
"""

import dataclasses
import json
import os

import numpy as np

from keras_zfnet.analysis._utils import checkpoints

VERSION = 1
_RESERVED = ("format", "metadata")
_REGISTRY = {}


def format_of(cls):
    """The `format` string of a result class's files."""
    return f"keras_zfnet.{cls.__name__}/{VERSION}"


class SavedResult:
    """Base class of result dataclasses that save to and load from `.npz`.

    Subclasses are frozen dataclasses holding numpy arrays and small
    metadata only (never a model); they are registered by class name so
    that a file may nest them (a `Diagnosis` holds `Finding`s).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def to_npz(self, path):
        """Saves the result, every field, to a `.npz` file.

        The file is written atomically at exactly `path` (no suffix is
        added) and read back by `from_npz` with every field equal: arrays
        bit-identical with their dtypes, strings, numbers, `None`, tuples
        and dicts as they were. Nothing is pickled.

        Args:
            path: the file to write (e.g. `"occlusion.npz"`).

        Returns:
            `path`.

        Example:

        >>> path = result.to_npz("result.npz")
        >>> same = type(result).from_npz("result.npz")
        """
        arrays = {"format": np.asarray(format_of(type(self)))}
        metadata = {}
        for name, value in _fields(self).items():
            if name in _RESERVED:
                raise ValueError(f"A result field may not be named {name!r}.")
            metadata[name] = _encode(value, arrays, name, top=True)
        arrays["metadata"] = np.asarray(json.dumps(metadata))
        checkpoints.save_npz(path, arrays)
        return path

    @classmethod
    def from_npz(cls, path):
        """Loads a result saved by `to_npz`.

        No model is needed or attached: the methods that need one take it
        as an argument.

        Args:
            path: a file written by `to_npz` of this class.

        Returns:
            An instance of this class equal, field by field, to the saved
            one.

        Raises:
            ValueError: when `path` is not a readable `.npz` file, or holds
                another kind of result or data (the message names the
                expected and the found format).

        Example:

        >>> result = kz.analysis.OcclusionResult.from_npz("occlusion.npz")
        """
        what = f"{cls.__name__} result"
        arrays = checkpoints.load_npz(path, what)
        expected = format_of(cls)
        found = str(arrays["format"]) if "format" in arrays else None
        if found != expected:
            found = (repr(found) if found is not None else
                     f"no keras_zfnet format (keys {sorted(arrays)[:8]})")
            raise ValueError(
                f"{os.fspath(path)} is not a {what}: expected format "
                f"{expected!r}, found {found}. Load it with the class that "
                f"saved it. Received: path={os.fspath(path)!r}")
        if "metadata" not in arrays:
            raise ValueError(
                f"{os.fspath(path)} is not a readable {what}: it has no "
                f"metadata. Received: path={os.fspath(path)!r}")
        try:
            metadata = json.loads(str(arrays["metadata"]))
        except ValueError as error:
            raise ValueError(
                f"{os.fspath(path)} is not a readable {what}: its metadata "
                f"is not JSON ({error}). Received: path="
                f"{os.fspath(path)!r}") from None
        return _build(cls, metadata, arrays, path)


def _fields(result):
    return {field.name: getattr(result, field.name)
            for field in dataclasses.fields(result)}


def _build(cls, metadata, arrays, path):
    """An instance of `cls` from decoded JSON fields."""
    try:
        values = {name: _decode(value, arrays)
                  for name, value in metadata.items()}
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        missing = sorted(
            name for name, field in fields.items()
            if name not in values and field.init
            and field.default is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING)
        if unknown or missing:
            raise ValueError(f"fields differ (unknown {unknown}, missing "
                             f"{missing})")
        return cls(**values)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(
            f"{os.fspath(path)} is not a readable {cls.__name__} result: "
            f"{error}. Received: path={os.fspath(path)!r}") from None


def _encode(value, arrays, name, top=False):
    """`value` as JSON data; arrays go into `arrays` (`name` for a top-level
    array field, `name.<n>` for nested ones)."""
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ValueError(
                f"Field {name!r} holds an object array, which cannot be "
                f"saved without pickle. Received: dtype={array.dtype}")
        key = name if top else f"{name}.{len(arrays)}"
        arrays[key] = array
        return {"array" if isinstance(value, np.ndarray) else "scalar": key}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays, name) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays, name) for v in value]
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays, name), _encode(v, arrays, name)]
                         for k, v in value.items()]}
    if isinstance(value, SavedResult):
        return {"result": type(value).__name__,
                "fields": {k: _encode(v, arrays, name)
                           for k, v in _fields(value).items()}}
    raise ValueError(
        f"Field {name!r} holds a {type(value).__name__}, which a result file "
        "cannot store (arrays, numbers, strings, None, tuples, lists, dicts "
        f"and saved results only). Received: {type(value).__name__}")


def _decode(data, arrays):
    if isinstance(data, list):
        return [_decode(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    if "array" in data:
        return arrays[data["array"]]
    if "scalar" in data:
        return arrays[data["scalar"]][()]
    if "tuple" in data:
        return tuple(_decode(v, arrays) for v in data["tuple"])
    if "dict" in data:
        return {_decode(k, arrays): _decode(v, arrays)
                for k, v in data["dict"]}
    if "result" in data:
        cls = _REGISTRY[data["result"]]
        return cls(**{k: _decode(v, arrays)
                      for k, v in data["fields"].items()})
    raise ValueError(f"unknown metadata entry {sorted(data)}")
