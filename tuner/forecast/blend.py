"""The final forecast as a combination: w x the tuned RNN + (1 - w) x the study's ridge regression (its [data]
as written: the ridge the comparison table prints), with w inversely proportional to each forecast's out-of-fold
MSE (Bates and Granger, 1969; the M-competitions' lesson that a combination of a model with a simple linear one
is rarely worse than either).

Why: a study picks its configuration by cross-validation among dozens, and on a short real series the winner is
partly noise; the study's ridge is the linear model the RNN must beat. Why these weights and not the
w minimising the out-of-fold MSE: the RNN's out-of-fold errors are optimistic (the study chose its configs on
those very folds; ridge was chosen on nothing), so the minimiser leans to the RNN, and estimated weights lose
to simpler ones more often than not (the "forecast combination puzzle"). Measured on the saved configs of a
make quality and a make outside run (21 studies): the test RMSE was lower than the minimiser's in 16, higher
in 5 (docs/final-models.md). A forecast without error out of fold takes all the weight.

When the config's windows and transforms are the study's, both parts see the same windows in the scaled units
the model trains in, so the blend is itself a SequenceModel: its head scaled by w, and its highway (the linear
term on the last inputs, widened to the whole window) set to w x its own + (1 - w) x ridge's coefficients
(choose_weight, blend_into). When the trial searched another window or transform, ridge keeps the study's
windows and is saved beside the model (choose_partner_weight; artifact.Partner, mixed in by parts.mix): on
series whose configs search them, ridge on the config's windows was measured the weaker linear model. The
weight is chosen in original units, as the forecasts are scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.baselines import ridge_fit
from ..data.prepare import Prepared, Split
from ..data.windows import per_column
from ..nn import SequenceModel


@dataclass(frozen=True)
class Ridge:
    coef: np.ndarray  # (outputs, window * inputs), oldest step first, as a highway's A
    intercept: np.ndarray  # (outputs,)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray) -> Ridge:
        return cls(*ridge_fit(x.reshape(len(x), -1), y))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1) @ self.coef.T + self.intercept


Fold = tuple[np.ndarray, np.ndarray, np.ndarray]  # what each row forecasts, the forecast, the actual values


def choose_weight(splits: list[Split], rnn: list[np.ndarray]) -> tuple[float, dict[str, float], list[Fold]]:
    """The RNN's share w = (1 / MSE_rnn) / (1 / MSE_rnn + 1 / MSE_ridge), each MSE out of fold (weight_mse),
    ridge fitted on each fold's training windows; `rnn` holds each fold's scaled forecasts. Returns w, the
    out-of-fold MSE of the RNN, of ridge and of the blend, and the blend's out-of-fold forecasts per fold (for
    its intervals)."""
    ridge = [Ridge.fit(s.x_train, s.y_train).predict(s.x_eval).astype(p.dtype)
             for s, p in zip(splits, rnn, strict=True)]
    actual = np.concatenate([s.y_eval_orig for s in splits])
    scale = np.concatenate([s.mase_scale for s in splits]) if splits[0].ids else None

    def forecasts(w: float) -> list[np.ndarray]:
        return [s.to_original(w * p + (1 - w) * r) for s, p, r in zip(splits, rnn, ridge, strict=True)]

    def mse(w: float) -> float:
        return weight_mse(np.concatenate(forecasts(w)), actual, scale)

    alone, linear = mse(1.0), mse(0.0)
    w = inverse_mse(alone, linear)
    folds = [(s.keys, f, s.y_eval_orig) for s, f in zip(splits, forecasts(w), strict=True)]
    return w, {"rnn": alone, "ridge": linear, "blend": mse(w)}, folds


def choose_partner_weight(rnn: list[Fold], study: Prepared) -> tuple[float, dict[str, float], list[Fold]]:
    """choose_weight for the study's own ridge as the partner (its windows and transforms, `study`): the RNN's
    out-of-fold forecasts `rnn` (original units) and ridge's out of fold on the study's folds, matched by what
    they forecast. Returns w, the three out-of-fold MSEs, and the blend's out-of-fold forecasts."""
    keys, forecast, actual = (np.concatenate(part) for part in zip(*rnn, strict=True))
    ridge_keys, ridge = ridge_out_of_fold(study)
    _, i, j = np.intersect1d(keys, ridge_keys, return_indices=True)  # the rows both forecast out of fold
    scale = None
    if study.panel is not None and study.mase_scale is not None:
        scale = per_column(study.mase_scale, actual.shape[1], keys["series"][i])
    alone, linear = weight_mse(forecast[i], actual[i], scale), weight_mse(ridge[j], actual[i], scale)
    w = inverse_mse(alone, linear)
    blended = w * forecast[i] + (1 - w) * ridge[j]
    return w, {"rnn": alone, "ridge": linear, "blend": weight_mse(blended, actual[i], scale)}, [(keys[i], blended,
                                                                                               actual[i])]


def weight_mse(forecast: np.ndarray, actual: np.ndarray, scale: np.ndarray | None) -> float:
    """The MSE the blend's weight is inverse to: in original units for one series; for a panel each error over
    its series' MASE denominator, so that no series weighs by its size."""
    err = forecast - actual if scale is None else (forecast - actual) / scale
    return float(np.mean(err**2))


def ridge_out_of_fold(prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Ridge fitted on each fold's training windows, forecasting its validation windows: what each row
    forecasts (Split.keys) and the forecasts in original units, over all folds."""
    splits = [prepared.fold(f) for f in range(len(prepared.folds))]
    return (np.concatenate([s.keys for s in splits]),
            np.concatenate([s.to_original(Ridge.fit(s.x_train, s.y_train).predict(s.x_eval)) for s in splits]))


def inverse_mse(alone: float, linear: float) -> float:
    """The RNN's share, inverse to the two MSEs; a forecast without error takes it all."""
    return 1.0 if alone == 0 else 0.0 if linear == 0 else (1 / alone) / (1 / alone + 1 / linear)


def blend_into(model: SequenceModel, w: float, ridge: Ridge, window: int) -> SequenceModel:
    """The model that forecasts w x model + (1 - w) x ridge: the head scaled by w, the highway widened to the
    whole window (zeros for the steps the model's own highway did not see) and mixed with ridge's terms."""
    if w == 1:
        return model
    dt = model.dtype
    blended = SequenceModel(**{**model.config, "highway": window})
    blended.params = {k: v.copy() for k, v in model.params.items() if k != "A"}
    own = np.zeros((model.output_size, window * model.input_size))
    if model.highway:
        own[:, own.shape[1] - model.params["A"].shape[1] :] = model.params["A"]
    blended.params["V"] = (w * model.params["V"]).astype(dt)
    blended.params["c"] = (w * model.params["c"] + (1 - w) * ridge.intercept).astype(dt)
    blended.params["A"] = (w * own + (1 - w) * ridge.coef).astype(dt)
    return blended


__all__ = ["Ridge", "blend_into", "choose_partner_weight", "choose_weight", "inverse_mse", "ridge_out_of_fold"]
