"""nn/sizes.py: the estimates limits.py refuses by are upper bounds of what a real model holds (the trust battery
checks training's allocations against tracemalloc; here, the weights themselves)."""

import itertools

import pytest

from tuner.nn import CELLS, SequenceModel
from tuner.nn.sizes import ITEMSIZE, model_bytes, n_params


@pytest.mark.parametrize("cell, layers, highway", itertools.product(CELLS, [1, 2], [0, 4]))
def test_the_parameter_count_bounds_the_models_own_and_is_close(cell, layers, highway):
    model = SequenceModel(cell, input_size=3, hidden_size=8, output_size=2, num_layers=layers, highway=highway)
    real = sum(p.size for p in model.params.values())
    estimated = n_params(cell, 3, 8, 2, layers, highway)
    assert real <= estimated <= real + CELLS[cell].gates * 8 * layers  # at most an extra bias per gate block


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_model_bytes_count_each_copy_at_the_dtypes_width(dtype):
    model = SequenceModel("lstm", input_size=2, hidden_size=16, output_size=1, dtype=dtype)
    real = sum(p.nbytes for p in model.params.values())
    assert real <= model_bytes("lstm", 2, 16, 1, 1, dtype) == n_params("lstm", 2, 16, 1, 1) * ITEMSIZE[dtype]
    assert model_bytes("lstm", 2, 16, 1, 1, dtype, copies=6) == 6 * model_bytes("lstm", 2, 16, 1, 1, dtype)
