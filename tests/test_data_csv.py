"""data/csv.py: reading a user's CSV; every bad value one line naming its column and row."""

import pandas as pd
import pytest
from conftest import write_csv

from tuner.config.spec import CVSpec, DataSpec
from tuner.data.datasets import read_csv
from tuner.data.prepare import prepare
from tuner.errors import DataError


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"data file .*nope.csv does not exist; check data.path"):
        read_csv(tmp_path / "nope.csv", "y")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError, match=r"is a directory; point it at a CSV file"):
        read_csv(tmp_path, "y")


def test_unknown_column_lists_the_columns(tmp_path):
    path = write_csv(tmp_path, "date,sales\n2020-01-01,3\n")
    with pytest.raises(DataError, match=r"column 'revenue' is not in .*; its columns are: date, sales"):
        read_csv(path, "revenue")
    with pytest.raises(DataError, match=r"column 'price' is not in"):
        read_csv(path, "sales", features=["price"])


def test_text_in_a_number_column_names_column_and_row(tmp_path):
    path = write_csv(tmp_path, "t,sales\n1,3\n2,4\n3,n/a?\n4,5\n")
    with pytest.raises(DataError, match=r"column 'sales' of .* has text 'n/a\?' in data row 3; make it a number"):
        read_csv(path, "sales", time="t")


def test_missing_values_with_missing_error(tmp_path, capsys):
    path = write_csv(tmp_path, "t,sales\n1,3\n2,\n3,5\n")
    with pytest.raises(DataError, match=r"has 1 missing value \(first in column 'sales', data row 2\); set "
                                        r"data.missing = \"interpolate\" or \"drop\""):
        read_csv(path, "sales", time="t")
    assert read_csv(path, "sales", time="t", missing="interpolate")["sales"].tolist() == [3, 4, 5]
    assert "filled 1 missing value by linear interpolation (first in column 'sales', data row 2" in \
        capsys.readouterr().err
    assert read_csv(path, "sales", time="t", missing="drop")["sales"].tolist() == [3, 5]
    assert "dropped 1 row with missing values" in capsys.readouterr().err
    read_csv(path, "sales", time="t", missing="drop")
    assert capsys.readouterr().err == ""  # said once per process: a searched window reads the file again


def test_time_column_is_parsed_and_sorted(tmp_path):
    path = write_csv(tmp_path, "day,v\n2020-01-03,3\n2020-01-01,1\n2020-01-02,2\n")
    df = read_csv(path, "v", time="day")
    assert df["v"].tolist() == [1, 2, 3] and isinstance(df.index, pd.DatetimeIndex)
    bad = write_csv(tmp_path, "day,v\n2020-01-03,3\nyesterday,1\n", "bad.csv")
    with pytest.raises(DataError, match=r"time column 'day' .* has 'yesterday' in data row 2, which is not a date"):
        read_csv(bad, "v", time="day")


def test_a_value_whose_square_overflows_is_refused_with_column_and_row(tmp_path):
    path = write_csv(tmp_path, "t,v\n" + "".join(f"{i},{1e300 if i == 7 else i}\n" for i in range(50)))
    with pytest.raises(DataError, match=r"column 'v' of .* has '1e\+300' in data row 8: its square overflows"):
        prepare(DataSpec(dataset="csv", path=str(path), target="v", time="t", window=4), CVSpec(folds=2))


def test_a_gap_in_the_time_column_is_refused_or_handled_as_missing_says(tmp_path, capsys):
    """Monthly data with an 11-month hole: refused with the gap's times in the data's own format; "interpolate"
    inserts and fills the months; "drop" keeps the rows and says windows span the gap. Either way the times past
    the end stay months."""
    from tuner.data.times import future_times

    months = pd.date_range("2000-01", periods=60, freq="MS").delete(range(20, 31))
    path = write_csv(tmp_path, "month,v\n" + "".join(f"{m:%Y-%m},{i % 12 + 1}\n" for i, m in enumerate(months)))
    with pytest.raises(DataError, match=r"time column 'month' of .* skips 11 times at its step \(the first gap: "
                                        r"from 2001-08 to 2002-08\); set data.missing"):
        read_csv(path, "v", time="month")
    filled = read_csv(path, "v", time="month", missing="interpolate")
    assert len(filled) == 60 and filled.index.equals(pd.date_range("2000-01", periods=60, freq="MS"))
    kept = read_csv(path, "v", time="month", missing="drop")
    assert len(kept) == 49 and "windows span the gap" in capsys.readouterr().err
    assert list(future_times(kept.index, 2).strftime("%Y-%m-%d")) == ["2005-01-01", "2005-02-01"]


def test_a_long_table_of_several_series_is_not_read_as_one(tmp_path):
    """time = "" on (unique_id, ds, y): in file order the series would run together; the repeated times in the
    column tuner does not read say it is several series."""
    rows = "".join(f"{s},{2000 + i // 12}-{i % 12 + 1:02d},{i}\n" for s in "ab" for i in range(30))
    path = write_csv(tmp_path, "unique_id,ds,y\n" + rows)
    with pytest.raises(DataError, match=r"column 'ds' of .* holds times that repeat \('2000-01' again in data row "
                                        r"31\): a table of several series"):
        read_csv(path, "y")
    one = write_csv(tmp_path, "unique_id,ds,y\n" + rows[: rows.index("b,")], "one.csv")
    assert len(read_csv(one, "y")) == 30  # one series with an unread time column is fine
