"""nn/io.py: a model saved as .npz and .json, read back without pickle."""

import json

import numpy as np
import pytest

from tuner.errors import ConfigError
from tuner.nn import SequenceModel


def test_save_load_roundtrip_without_pickle(tmp_path, rng):
    m = SequenceModel("lstm", 2, 6, 1, activation="relu", num_layers=2, seed=4, dtype="float32")
    x = rng.standard_normal((3, 5, 2))
    path = m.save(tmp_path / "model")
    assert path.suffix == ".npz" and path.with_suffix(".json").exists()
    loaded = SequenceModel.load(path)
    assert loaded.config == m.config
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    with np.load(path, allow_pickle=False) as arrays:
        assert set(arrays.files) == set(m.params)


def test_a_tampered_description_or_array_is_refused_before_anything_large_is_read(tmp_path):
    model = SequenceModel("gru", 2, 4, 1, seed=1)
    path = model.save(tmp_path / "m")
    meta = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**meta, "hidden_size": 5}))
    with pytest.raises(ConfigError, match=r"m.npz: parameter \w+ is a float64 array of shape .*, expected floats"):
        SequenceModel.load(path)
    path.with_suffix(".json").write_text(json.dumps({**meta, "hidden_size": 10**9}))  # 10^18 weights
    with pytest.raises(ConfigError, match=r"expected floats of shape \(3000000000, 2\)"):  # nothing allocated
        SequenceModel.load(path)
    path.with_suffix(".json").write_text(json.dumps({**meta, "format": "pickle"}))
    with pytest.raises(ConfigError, match=r"m.json is not a tuner model description \(format or keys differ\)"):
        SequenceModel.load(path)
    path.with_suffix(".json").write_text(json.dumps(meta))
    with np.load(path) as arrays:
        params = dict(arrays)
    np.savez(path, **{**params, "V": params["V"].astype(np.int64)})
    with pytest.raises(ConfigError, match=r"parameter V is a int64 array"):
        SequenceModel.load(path)
