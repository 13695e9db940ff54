"""A model on disk, without pickle: PATH.npz holds the arrays and PATH.json the constructor arguments. A file
is checked before anything large is read: the sizes in the JSON against each array's header, and the model's
bytes against the memory this process may use, so a tampered file is one ConfigError."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..limits import check_fits, read_bounded
from .model import SequenceModel
from .sizes import model_bytes

FORMAT = "tuner.SequenceModel/1"
MAX_JSON = 64 << 20  # model.json and its kin hold settings and scalers: megabytes at most


def save(model: SequenceModel, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write PATH.npz (the arrays) and PATH.json (the constructor arguments, and `extra` under "extra").
    Returns the .npz path."""
    path = Path(path).with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, allow_pickle=False, **model.params)
    meta = {"format": FORMAT, **model.config, **({"extra": extra} if extra else {})}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path


def load(path: str | Path) -> SequenceModel:
    """Read a model written by save. A damaged, tampered or oversized file fails with ConfigError before
    anything large is allocated: the sizes in the JSON and in each array's header are checked first."""
    path = Path(path).with_suffix(".npz")
    meta = read_json(path.with_suffix(".json"))
    config = {k: v for k, v in meta.items() if k not in ("format", "extra")}
    expected = {"cell", "input_size", "hidden_size", "output_size", "activation", "num_layers", "seed", "dtype",
                "output_activation"}
    if meta.get("format") != FORMAT or set(config) - {"highway"} != expected:  # older: none
        raise ConfigError(f"{path.with_suffix('.json')} is not a tuner model description (format or keys "
                          f"differ); give a folder written by tuner train")
    model = SequenceModel.__new__(SequenceModel)  # no random init: a tampered size must not cost O(H^3)
    try:
        model._configure(**config)
    except TypeError as exc:
        raise ConfigError(f"{path.with_suffix('.json')} is not a tuner model description ({exc})") from None
    shapes = model.param_shapes()
    headers = _npz_headers(path)
    differ = sorted(set(headers) ^ set(shapes))
    if differ:
        raise ConfigError(f"{path} does not match its metadata: parameters {differ} differ")
    for k, (shape, dtype, stored) in headers.items():
        if shape != shapes[k] or dtype.kind != "f":
            raise ConfigError(f"{path}: parameter {k} is a {dtype} array of shape {shape}, expected floats of "
                              f"shape {shapes[k]}")
        if stored < dtype.itemsize * int(np.prod(shape)):  # np.savez never compresses: no zip bombs
            raise ConfigError(f"{path}: parameter {k} is compressed or truncated; retrain with tuner train")
    check_fits(f"the model in {path}", model_bytes(model.cell, model.input_size, model.hidden_size,
                                                   model.output_size, model.num_layers, model.dtype,
                                                   highway=model.highway),
               "this is not a model tuner train wrote", share=0.5)
    model.params = {k: np.empty(shape, dtype=model.dtype) for k, shape in shapes.items()}
    try:
        with np.load(path, allow_pickle=False) as arrays:
            for k in model.params:
                model.params[k][...] = arrays[k]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); retrain with tuner train") from None
    return model


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object that tuner train wrote (model.json, metrics.json); anything else is one ConfigError."""
    try:
        meta = json.loads(read_bounded(path, MAX_JSON, "model file", ConfigError))
    except ConfigError:  # not a regular file, or too large: already one line
        raise
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; give a folder written by tuner train") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({str(exc).splitlines()[0] if str(exc) else 'nested too deeply'})"
                          f"; retrain with tuner train") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{path} is not what tuner train writes; give a folder written by tuner train")
    return meta


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype, int]]:
    """Each array's shape, dtype and bytes on disk in an .npz, from the headers alone (nothing is read)."""
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                with archive.open(name) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f)
                out[name.removesuffix(".npy")] = (shape, dtype, info.compress_size)
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; give a folder written by tuner train") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); retrain with tuner train") from None
    return out


__all__ = ["FORMAT", "load", "read_json", "save"]
