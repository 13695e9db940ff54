"""data/datasets.py: the shipped series and the Dataset registry."""

import numpy as np
import pandas as pd
import pytest

from tuner.config.rules import from_table
from tuner.config.spec import CVSpec, DataSpec
from tuner.data.datasets import DATASETS
from tuner.data.prepare import prepare
from tuner.errors import DataError


def test_sunspots_is_the_yearly_series_1700_2008():
    p = prepare(DataSpec(dataset="sunspots", test_size=10, window=3), CVSpec(folds=2))
    w = p.windows
    assert len(w.stages[0]) == 309 and w.target_time[0] == 1703 and w.target_time[-1] == 2008
    assert w.stages[0].max() == 190.2


def test_airline_passengers_sum_to_40363():
    df = DATASETS["airline"](DataSpec(dataset="airline"))
    assert len(df) == 144 and df["passengers"].sum() == 40363
    assert df.index[0] == pd.Timestamp("1949-01-01") and df.index[-1] == pd.Timestamp("1960-12-01")


def test_unknown_dataset_lists_the_built_in_ones():
    with pytest.raises(DataError, match=r"data.dataset must be one of adding, airline, csv, sine, sunspots; "
                                        r"got dataset='sunspot'"):
        from_table(DataSpec, {"dataset": "sunspot"}, "data")


def test_a_registered_dataset_is_all_it_takes(monkeypatch):
    """A dataset is one Dataset entry: the spec accepts its name and its keys, prepare windows it, and an
    exported config carries exactly the keys it reads; no module tests a dataset by name."""
    from tuner.data.datasets import SERIES_KEYS, Dataset

    def ramp(spec):
        return pd.DataFrame({"ramp": np.arange(120.0) % 17}, index=pd.RangeIndex(120, name="t"))

    monkeypatch.setitem(DATASETS, "ramp", Dataset(ramp, SERIES_KEYS))
    spec = from_table(DataSpec, {"dataset": "ramp", "window": 6}, "data")
    assert spec.keys_that_apply() == set(SERIES_KEYS)
    prepared = prepare(spec, CVSpec(folds=2))
    assert prepared.x.shape[1:] == (6, 1) and len(prepared.folds) == 2
    with pytest.raises(Exception, match="reads no file, but path is set"):
        DataSpec(dataset="ramp", path="x.csv")
