"""Engine speed: milliseconds per full training step (forward, backward, Adam step).

For rnn/lstm/gru at batch 32, 50 steps, 1 input, one output after the last step, hidden 32 and 128,
float32 and float64, it times:
  ours   tuner's SequenceModel on the whole batch
  loop   the straightforward per-sample loop of tutorial code (bench/naive.py): one sequence, one step
         and one gate at a time. It computes the same gradient as ours (checked at start), so the ratio
         is like for like.
  torch  torch.nn.{RNN,LSTM,GRU} + Linear + MSELoss + Adam on CPU, when torch is installed
with 1 and 2 BLAS / intra-op threads.

This machine's speed drifts by up to 1.5x within minutes, so each contender runs in a process of its own
(no two thread pools spinning in one process) and the contenders take turns on every configuration, several
rounds each; the table gives the median of the rounds, and each ratio is the median of the per-round
ratios of two contenders that ran back to back. Between turns the bench pauses, so that the idle
workers' BLAS and OpenMP threads, which spin for up to ~0.1 s after their last job, are asleep before the
next contender starts.

Run: make bench   (the torch columns need: .venv/bin/pip install '.[bench]')
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable

import naive
import numpy as np

from tuner.nn import SequenceModel, keep_freed_memory, make_optimizer

B, T, D, O = 32, 50, 1, 1  # noqa: E741  (batch, steps, inputs, outputs)
CELLS, HIDDEN, DTYPES = ("rnn", "lstm", "gru"), (32, 128), ("float32", "float64")


EVERY_STEP = False  # --every-step: a prediction (and a loss term) at every step instead of after the last


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((B, T, D)), rng.standard_normal((B, T, O) if EVERY_STEP else (B, O))


def ours(cell: str, hidden: int, dtype: str) -> Callable[[], object]:
    x, y = data()
    model = SequenceModel(cell, D, hidden, O, seed=0, dtype=dtype)
    opt = make_optimizer("adam", lr=1e-3)

    def step():
        _, grads = model.loss_and_grads(x, y)
        opt.step(model.params, grads)

    return step


def loop(cell: str, hidden: int, dtype: str) -> Callable[[], object]:
    x, y = data()
    model = SequenceModel(cell, D, hidden, O, seed=0, dtype=dtype)
    x, y = x.astype(dtype), y.astype(dtype)
    opt = make_optimizer("adam", lr=1e-3)

    def step():
        opt.step(model.params, naive.grads(cell, model.params, x, y))

    return step


def torch_step(cell: str, hidden: int, dtype: str) -> Callable[[], object]:
    import torch

    x, y = data()
    tdtype = getattr(torch, dtype)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, hidden, batch_first=True)
    head = torch.nn.Linear(hidden, O)
    rnn.to(tdtype)
    head.to(tdtype)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
    xt, yt = torch.tensor(x, dtype=tdtype), torch.tensor(y, dtype=tdtype)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(xt)
        loss_fn(head(out if EVERY_STEP else out[:, -1]), yt).backward()
        opt.step()

    return step


def check_loop_equals_batch() -> None:
    """The per-sample loop computes the same gradient as the batch: the comparison is like for like."""
    x, y = data()
    for cell in CELLS:
        model = SequenceModel(cell, D, 8, O, seed=0)
        _, batch = model.loss_and_grads(x, y)
        for k, g in naive.grads(cell, model.params, x, y).items():
            np.testing.assert_allclose(g, batch[k], rtol=1e-7, atol=1e-10, err_msg=f"{cell} {k}")


def time_ms(step: Callable[[], object], seconds: float) -> float:
    """Mean milliseconds per call over about `seconds` of calls, after a warm-up."""
    for _ in range(3):
        step()
    start, n = time.perf_counter(), 0
    while (elapsed := time.perf_counter() - start) < seconds:
        step()
        n += 1
    return elapsed / n * 1e3


def ratio(runs: dict[tuple, list[float]], a: tuple, b: tuple) -> str:
    """Median over rounds of a's time over b's: the two ran back to back, so drift cancels."""
    if a not in runs or b not in runs:
        return "-"
    return f"{statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=True)):.2f}x"


def worker(kind: str, threads: int, conn, every_step: bool = False) -> None:
    """One contender in its own process: answers (cell, hidden, dtype, seconds) with ms per step."""
    from threadpoolctl import threadpool_limits

    global EVERY_STEP
    EVERY_STEP = every_step
    if kind == "torch":
        import torch

        torch.set_num_threads(threads)
    make = {"ours": ours, "loop": loop, "torch": torch_step}[kind]
    steps: dict[tuple, Callable[[], object]] = {}
    with threadpool_limits(threads):
        while (job := conn.recv()) is not None:
            key, seconds = job[:3], job[3]
            if key not in steps:
                steps[key] = make(*key)
            conn.send(time_ms(steps[key], seconds))


def main() -> int:
    keep_freed_memory()  # as the CLI does: the engine's speed figures assume it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--rounds", type=int, default=5, help="turns per contender and configuration")
    parser.add_argument("--seconds", type=float, default=0.15, help="timing per turn")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between turns")
    parser.add_argument("--no-loop", action="store_true", help="skip the slow per-sample loop")
    parser.add_argument("--every-step", action="store_true", help="an output and loss at every step")
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN)))
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    args = parser.parse_args()
    contenders_loop = not args.no_loop and not args.every_step  # the loop computes the last-step loss only

    check_loop_equals_batch()
    has_torch = importlib.util.find_spec("torch") is not None
    contenders = [("ours", 1), ("ours", 2)]
    contenders += [("loop", 1)] if contenders_loop else []
    contenders += [("torch", 1), ("torch", 2)] if has_torch else []
    ctx = mp.get_context("spawn")
    pipes = {}
    for kind, threads in contenders:
        parent, child = ctx.Pipe()
        ctx.Process(target=worker, args=(kind, threads, child, args.every_step), daemon=True).start()
        pipes[kind, threads] = parent

    import platform

    versions = f"numpy {np.__version__}"
    if has_torch:
        import torch

        versions += f", torch {torch.__version__}"
    outputs = "1 output at every step" if args.every_step else "1 output after the last step"
    print(f"ms per training step (forward + backward + Adam), batch {B}, {T} steps, {D} input, {outputs}; "
          f"median of {args.rounds} interleaved rounds; {versions}; {platform.processor() or 'cpu'}"
          f" with {mp.cpu_count()} cores")
    names = [f"{k} {t}t" for k, t in contenders]
    header = ["cell", "hidden", "dtype", *names, "loop/ours 1t", "torch/ours 1t", "torch/ours 2t"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cell in args.cells.split(","):
        for hidden in map(int, args.hidden.split(",")):
            for dtype in args.dtypes.split(","):
                runs: dict[tuple, list[float]] = {c: [] for c in contenders}
                for _ in range(args.rounds):
                    for c in contenders:
                        pipes[c].send((cell, hidden, dtype, args.seconds))
                        runs[c].append(pipes[c].recv())
                        time.sleep(args.pause)
                row = [cell, str(hidden), dtype] + [f"{statistics.median(runs[c]):.3f}" for c in contenders]
                row += [ratio(runs, ("loop", 1), ("ours", 1)), ratio(runs, ("torch", 1), ("ours", 1)),
                        ratio(runs, ("torch", 2), ("ours", 2))]
                print("| " + " | ".join(row) + " |", flush=True)
    for conn in pipes.values():
        conn.send(None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
