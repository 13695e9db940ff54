"""Synthetic tasks, generated from an explicit seeded Generator."""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def adding_problem(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hochreiter & Schmidhuber's adding problem: x (n, length, 2), y (n, 1).

    Channel 0 holds uniform [0, 1) values, channel 1 marks two of them, one in each half of the sequence;
    the target is the sum of the two marked values. Always predicting 1 scores MSE 1/6 = 0.167.
    """
    if length < 2:
        raise DataError(f"the adding problem needs data.length >= 2, got length={length}")
    x = np.zeros((n, length, 2))
    x[:, :, 0] = rng.uniform(size=(n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    rows = np.arange(n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (x[rows, first, 0] + x[rows, second, 0])[:, None]
    return x, y


def noisy_sines(n: int, rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
    """A sum of three sines with incommensurate periods plus Gaussian noise: a series of n points."""
    t = np.arange(n)
    clean = np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 9.3) + 0.3 * np.sin(2 * np.pi * t / 61)
    return clean + noise * rng.standard_normal(n)
