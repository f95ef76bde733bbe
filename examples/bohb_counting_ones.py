"""BOHB versus Hyperband on the counting-ones benchmark (Falkner et al., 2018).

The space has ``D`` binary parameters and ``D`` continuous ones in [0, 1]. The objective is
the negative mean of the binary parameters plus the success rates of ``D`` coins whose biases
are the continuous parameters. The success rates are estimated by flipping each coin, more
often the larger the budget: a low budget is a cheap, noisy look at a config. The optimum is
-1 (every bit 1, every coin certain).

Both methods get the same budget plan (successive halving up to ``MAX_T`` iterations) and the
same number of trials. Hyperband draws configs at random; BOHB draws them from a density
model of the good configs seen so far, so it should end closer to -1.

Run:  python examples/bohb_counting_ones.py          (--quick: a smaller run)
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
D = 8                       # binary and continuous parameters, each
MAX_T = 9 if QUICK else 27  # largest budget, in iterations
FLIPS_PER_ITERATION = 3     # coin flips per continuous parameter per iteration


def counting_ones(config):
    state = rs.get_checkpoint() or {"heads": [0] * D, "flips": 0, "iteration": 0}
    bits = [config[f"bit{i}"] for i in range(D)]
    biases = np.array([config[f"p{i}"] for i in range(D)])
    heads = np.array(state["heads"])
    for iteration in range(state["iteration"], MAX_T):
        # Seeded per trial and iteration: a resumed trial flips exactly the same coins.
        rng = np.random.default_rng([int(rs.get_trial_id()), iteration])
        heads += rng.binomial(FLIPS_PER_ITERATION, biases)
        flips = state["flips"] + (iteration + 1 - state["iteration"]) * FLIPS_PER_ITERATION
        loss = -(sum(bits) + (heads / flips).sum()) / (2 * D)
        rs.report({"loss": loss}, checkpoint={"heads": heads.tolist(), "flips": flips,
                                              "iteration": iteration + 1})


def true_loss(config) -> float:
    """The noise-free objective: what an infinite budget would measure."""
    return -(sum(config[f"bit{i}"] for i in range(D))
             + sum(config[f"p{i}"] for i in range(D))) / (2 * D)


def summarise(label: str, results) -> dict:
    frame = results.dataframe()
    full = frame[frame.training_iteration >= MAX_T]   # only full-budget scores are comparable
    best = full.loc[full.loss.idxmin()]
    config = {k.removeprefix("config/"): v for k, v in best.items() if k.startswith("config/")}
    return {"method": label, "trials": len(frame), "full budget": len(full),
            "iterations": int(frame.training_iteration.sum()),
            "best loss (measured)": round(best.loss, 4),
            "best loss (true)": round(true_loss(config), 4), "directory": results.path}


def main() -> None:
    space = {f"bit{i}": [0, 1] for i in range(D)}
    space.update({f"p{i}": rs.uniform(0, 1) for i in range(D)})
    num_samples = 34 if QUICK else 98   # two Hyperband iterations' worth of trials
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = []
    for label, scheduler in [
            ("Hyperband", rs.schedulers.Hyperband(max_t=MAX_T, reduction_factor=3)),
            ("BOHB", rs.schedulers.BOHB(max_t=MAX_T, reduction_factor=3))]:
        results = rs.run(counting_ones, space, metric="loss", mode="min", scheduler=scheduler,
                         num_samples=num_samples, seed=0, storage_path=STORAGE, verbose=0,
                         name=f"counting_ones_{label.lower()}_{stamp}")
        rows.append(summarise(label, results))
    table = pd.DataFrame(rows)
    print(table.drop(columns="directory").to_string(index=False))
    for row in rows:
        print(f"{row['method']} experiment directory: {row['directory']}")


if __name__ == "__main__":
    main()
