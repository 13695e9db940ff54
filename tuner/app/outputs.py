"""What tuner train writes into its folder, and clearing what an earlier run wrote there (never anything else)."""

from __future__ import annotations

import json
from pathlib import Path

OUTPUTS = ("model.json", "metrics.json", "predictions.csv", "intervals.json", "forecast.png", "ahead.csv",
           "ensemble.json", "series.csv")


def clear_outputs(out_dir: Path) -> list[str]:
    """Remove what an earlier tuner train wrote into out_dir (a single model's files, an ensemble's member
    folders), so no stale model stands beside the new one; anything else in the folder is left alone."""
    if not _ours(out_dir):
        return []
    old = [p for p in out_dir.iterdir() if p.is_file() and (p.name in OUTPUTS or (
        p.name.startswith("model") and p.suffix in (".npz", ".json")))]
    old += [p for p in out_dir.glob("member-*") if p.is_dir() and _ours(p)]
    for path in old:
        if path.is_dir():
            clear_outputs(path)
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink()
    return sorted(p.name for p in old)


def _ours(folder: Path) -> bool:
    """Whether tuner train wrote this folder: its model.json or ensemble.json says so."""
    for name, fmt in (("model.json", "tuner.SequenceModel/1"), ("ensemble.json", "tuner.Ensemble/1")):
        try:
            if json.loads((folder / name).read_text()).get("format") == fmt:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False
