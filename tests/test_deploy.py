"""The recipes in deploy/ are checked offline: the manifests parse and hold together (the Job reaches the
scheduler's Service, workers run one trial at a time, the storage URL comes from a Secret), and every tuner
command in them is one tuner's own parser accepts."""

import ast
import shlex
import subprocess
import tomllib
from pathlib import Path

import yaml

from tuner.cli import build_parser

DEPLOY = Path(__file__).parent.parent / "deploy"


def accepted(argv: list[str]) -> None:
    """tuner's parser takes these arguments (it exits on an unknown one)."""
    assert argv[0] == "tuner"
    build_parser().parse_args(argv[1:])


def test_kubernetes_manifests_hold_together():
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "tuner.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert set(kinds) == {("Deployment", "dask-scheduler"), ("Service", "dask-scheduler"),
                          ("Deployment", "dask-worker"), ("Job", "tuner-tune")}
    for d in docs:
        assert d["apiVersion"] in ("v1", "apps/v1", "batch/v1")
        if d["kind"] == "Deployment":  # a selector that matches its pods
            assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    service = kinds[("Service", "dask-scheduler")]
    scheduler = kinds[("Deployment", "dask-scheduler")]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"] == scheduler and service["spec"]["ports"][0]["port"] == 8786
    [worker] = kinds[("Deployment", "dask-worker")]["spec"]["template"]["spec"]["containers"]
    assert worker["command"][:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert worker["command"][worker["command"].index("--nthreads") + 1] == "1"
    [tune] = kinds[("Job", "tuner-tune")]["spec"]["template"]["spec"]["containers"]
    accepted(tune["command"])
    assert tune["command"][tune["command"].index("--dask") + 1] == "tcp://dask-scheduler:8786"
    assert tune["env"] == [{"name": "TUNER_STORAGE", "valueFrom": {"secretKeyRef": {"name": "tuner-storage",
                                                                                    "key": "url"}}}]
    assert "postgresql" not in yaml.safe_dump(docs)  # no URL (and no password) in the manifests themselves
    assert (Path(__file__).parent.parent / tune["command"][2]).is_file()  # the study it names is shipped


def test_slurm_recipes_parse_and_run_tuner_as_tuner_accepts():
    sbatch = (DEPLOY / "slurm" / "tune.sbatch").read_text()
    assert subprocess.run(["bash", "-n", str(DEPLOY / "slurm" / "tune.sbatch")]).returncode == 0
    line = next(x for x in sbatch.splitlines() if x.strip().startswith("tuner tune"))
    command = shlex.split(line.split("||")[0].replace('"$STUDY"', "studies/sunspots.toml")
                          .replace('"tcp://$HOST:$PORT"', "tcp://node1:8786"))
    accepted(command)
    assert "--nthreads 1" in sbatch
    script = (DEPLOY / "slurm" / "tune.py").read_text()
    tree = ast.parse(script)
    assert ast.get_docstring(tree)
    assert '"tune", args.study, "--dask"' in script and "cluster.scheduler_address" in script


def test_the_image_installs_what_the_recipes_use():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    extras = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert "pip install --no-cache-dir '.[dask,postgres]'" in dockerfile and {"dask", "postgres"} <= set(extras)
