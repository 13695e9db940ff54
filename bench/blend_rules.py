"""Blend rules side by side on the saved top-K configs of a `make quality` or `make outside` run: each config is
trained once more without the blend (tuner train --no-blend), and its RNN forecasts are combined with a ridge
partner by each rule, out of fold to choose the weight and on the test split to score it. The configs are
averaged as `make train` averages them.

Rules: the weight minimising the out-of-fold MSE (what tuner did until 2026-11-28), the weight inverse to the
two out-of-fold MSEs (what it does now), and equal weights; partners: ridge on the config's own windows and
transforms (what the saved model folds in) and the study's own ridge (its [data] as written, the ridge the
table prints).
Run: python bench/blend_rules.py runs/outside/co2_seed0 runs/quality/sunspots ...  (a study's output stem)
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from tuner.app.train_final import train_final
from tuner.config.studyfile import load_study
from tuner.data.prepare import Prepared, prepare, scores
from tuner.forecast.blend import Ridge, inverse_mse, ridge_out_of_fold

GRID = np.linspace(0, 1, 21)


def ridge_forecasts(prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge out of fold (keys, forecasts; original units), as the blend computes it, and on the test split."""
    keys, oof = ridge_out_of_fold(prepared)
    split = prepared.test()
    return keys, oof, split.to_original(Ridge.fit(split.x_train, split.y_train).predict(split.x_eval))


def weights(rnn: np.ndarray, ridge: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    alone, linear = float(np.mean((rnn - actual) ** 2)), float(np.mean((ridge - actual) ** 2))
    errors = [np.mean((w * rnn + (1 - w) * ridge - actual) ** 2) for w in GRID]
    return {"minimiser": float(GRID[int(np.argmin(errors))]), "inverse": inverse_mse(alone, linear), "equal": 0.5}


def study(stem: str, scratch: Path) -> dict[str, float]:
    numbered = sorted(Path(stem).parent.glob(f"{Path(stem).name}-best-*.toml"),
                      key=lambda p: int(re.search(r"-(\d+)\.toml$", p.name).group(1)))  # type: ignore[union-attr]
    configs = numbered or [Path(f"{stem}-best.toml")]
    combos: dict[str, list[np.ndarray]] = {}
    for config in configs:
        spec = load_study(config)
        result = train_final(spec, scratch, picture=False, blend=False)
        prepared = prepare(spec.data, spec.cv, spec.seed)
        split = prepared.test()
        keys, rnn_oof, actual_oof = result.oof  # type: ignore[misc]
        assert result.forecaster is not None
        rnn_test = split.to_original(np.mean([m.predict(split.x_eval) for m in result.forecaster.members], axis=0))
        study_data = dataclasses.replace(spec.data, **spec.provenance.get("baseline_data", {}))
        for partner, data in (("own windows", spec.data), ("study's ridge", study_data)):
            other = prepared if data == spec.data else prepare(data, spec.cv, spec.seed)
            r_keys, r_oof, r_test = ridge_forecasts(other)
            assert np.allclose(other.test().y_eval_orig, split.y_eval_orig)  # the same test targets
            _, i, j = np.intersect1d(keys, r_keys, return_indices=True)  # rows both forecast out of fold
            for rule, w in weights(rnn_oof[i], r_oof[j], actual_oof[i]).items():
                combos.setdefault(f"{rule}, {partner}", []).append(w * rnn_test + (1 - w) * r_test)
        combos.setdefault("RNN alone", []).append(rnn_test)
        combos.setdefault("study's ridge", []).append(ridge_forecasts(prepare(study_data, spec.cv, spec.seed))[2])
    return {name: scores(np.mean(c, axis=0), split.y_eval_orig)["rmse"] for name, c in combos.items()}


def main() -> int:
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for stem in sys.argv[1:]:
            rows[stem] = study(stem, Path(scratch))
            print(stem, {k: round(v, 5) for k, v in rows[stem].items()}, flush=True)
    names = [n for n in next(iter(rows.values())) if n != "study's ridge"]
    print("\n| rule | test RMSE against the study's ridge, geometric mean | studies better than ridge |\n|---|---|---|")
    for name in names:
        logs = [math.log(r[name] / r["study's ridge"]) for r in rows.values()]
        wins = sum(r[name] < r["study's ridge"] for r in rows.values())
        print(f"| {name} | {100 * (math.exp(sum(logs) / len(logs)) - 1):+.1f}% | {wins} of {len(rows)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
