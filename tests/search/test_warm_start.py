"""Seeding searchers with results known before the run: ``Searcher.add_evaluated`` and
``rs.run(..., warm_start=...)`` (a previous experiment, its Results, or (config, result)
pairs), stored in the experiment so that a resume replays the same searcher."""

from __future__ import annotations

import os

import numpy as np
import pytest

import raysweep as rs
from raysweep.errors import ResumeMismatch
from raysweep.schedulers.bohb import BOHBSearcher
from raysweep.search.evolution import Evolution
from raysweep.search.gp import GP
from raysweep.search.pso import PSO
from raysweep.search.scipy import Scipy
from raysweep.search.tpe import TPE
from raysweep.space import Space

SPACE = {"x": rs.uniform(-10.0, 10.0), "y": rs.uniform(-10.0, 10.0)}


def bowl(config):
    return (config["x"] - 3.0) ** 2 + (config["y"] + 2.0) ** 2


def priors(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        config = {"x": float(rng.uniform(-10, 10)), "y": float(rng.uniform(-10, 10))}
        out.append((config, {"loss": bowl(config)}))
    return out


def run(objective, space, **kwargs):
    kwargs.setdefault("executor", "inline")
    kwargs.setdefault("verbose", 0)
    return rs.run(objective, space, **kwargs)


MODEL_SEARCHERS = {
    "tpe": lambda: TPE(n_startup_trials=10),
    "gp": lambda: GP(n_startup_trials=10, n_candidates=256, n_restarts=2),
    "evolution": lambda: Evolution(population_size=8),
    "pso": lambda: PSO(n_particles=8),
}


@pytest.mark.parametrize("name", sorted(MODEL_SEARCHERS))
def test_model_searchers_propose_near_the_seeded_optimum(name):
    """With 40 seeded results and no trial of its own, a model-based searcher's first
    proposals are already better than random ones."""
    def first_losses(seeded):
        searcher = MODEL_SEARCHERS[name]()
        searcher.setup(Space(SPACE), "loss", "min", seed=1, num_samples=100)
        if seeded:
            for config, result in priors(40):
                searcher.add_evaluated(config, result)
        losses = []
        for i in range(8):
            config = searcher.suggest(f"{i:05d}")
            losses.append(bowl(config))
            searcher.observe(f"{i:05d}", {"loss": bowl(config)}, final=True)
        return float(np.median(losses))

    assert first_losses(seeded=True) < first_losses(seeded=False)
    assert first_losses(seeded=True) < 20.0  # the random median of the bowl is ~70


def test_seeded_results_are_not_proposed_again():
    searcher = TPE(n_startup_trials=1)
    space = Space({"k": rs.choice([1, 2, 3, 4])})
    searcher.setup(space, "loss", "min", seed=0, num_samples=4)
    for k in (1, 2, 3):
        searcher.add_evaluated({"k": k}, {"loss": float(k)})
    assert searcher.suggest("00000") == {"k": 4}


def test_scipy_starts_from_the_best_seeded_point():
    searcher = Scipy("nelder-mead")
    searcher.setup(Space(SPACE), "loss", "min", seed=0, num_samples=20)
    seeded = priors(10)
    for config, result in seeded:
        searcher.add_evaluated(config, result)
    best = min(seeded, key=lambda pair: pair[1]["loss"])[0]
    first = searcher.suggest("00000")
    assert first["x"] == pytest.approx(best["x"], abs=1e-9)
    assert first["y"] == pytest.approx(best["y"], abs=1e-9)


def test_bohb_learns_seeded_results_at_their_budget():
    searcher = BOHBSearcher(min_points_in_model=2)
    searcher.setup(Space(SPACE), "loss", "min", seed=0)
    for config, result in priors(6):
        searcher.add_evaluated(config, {**result, "training_iteration": 9})
    searcher.add_evaluated({"x": 0.0, "y": 0.0}, {"loss": 1.0})  # no budget: skipped
    assert sorted(searcher.observations_) == [9.0]
    assert len(searcher.observations_[9.0]) == 6
    assert searcher.model_budget() == 9.0


def test_add_evaluated_checks_its_arguments():
    searcher = TPE()
    searcher.setup(Space(SPACE), "loss", "min", seed=0)
    with pytest.raises(TypeError, match="config must be a dict"):
        searcher.add_evaluated([1, 2], {"loss": 1.0})
    with pytest.raises(TypeError, match="result must be a dict"):
        searcher.add_evaluated({"x": 1.0, "y": 1.0}, 1.0)


def test_run_seeded_from_a_previous_experiment_directory(storage):
    first = run(bowl, SPACE, num_samples=30, seed=0, storage_path=storage, name="first")
    search = lambda: TPE(n_startup_trials=10)  # noqa: E731
    seeded = run(bowl, SPACE, num_samples=6, seed=1, search=search(), storage_path=storage,
                 name="seeded", warm_start=first.path)
    cold = run(bowl, SPACE, num_samples=6, seed=1, search=search(), storage_path=storage,
               name="cold")
    # seeded: six model-driven proposals; cold: six random start-up trials
    seeded_losses = seeded.dataframe()["loss"]
    assert seeded_losses.median() < cold.dataframe()["loss"].median()
    assert len(seeded) == 6  # the seeded results are learnt from, not run again
    assert rs.load(seeded.path).settings["warm_start"] == 30
    # a Results object works the same as its directory
    again = run(bowl, SPACE, num_samples=6, seed=1, search=search(), storage_path=storage,
                name="from_results", warm_start=first)
    assert [t.config for t in again.trials] == [t.config for t in seeded.trials]


def test_pairs_skip_results_that_do_not_fit_the_space(storage, caplog):
    pairs = priors(12) + [({"x": 1.0}, {"loss": 1.0}),                # y missing
                          ({"x": 1.0, "y": 1.0, "z": 2}, {"loss": 1.0}),  # z unknown
                          ({"x": 1.0, "y": 1.0}, {"other": 1.0}),     # no metric
                          ({"x": 1.0, "y": 2.0}, 5.0)]                # a number is the metric
    with caplog.at_level("WARNING", logger="raysweep"):
        results = run(bowl, SPACE, num_samples=2, seed=0, search=TPE(n_startup_trials=5),
                      storage_path=storage, name="pairs", warm_start=pairs)
    assert rs.load(results.path).settings["warm_start"] == 13
    assert "3 of 16 results of warm_start skipped" in caplog.text


def test_resume_replays_the_seeded_searcher(storage):
    pairs = priors(20)
    whole = run(bowl, SPACE, num_samples=8, seed=3, search=TPE(n_startup_trials=5),
                storage_path=storage, name="whole", warm_start=pairs)
    run(bowl, SPACE, num_samples=4, seed=3, search=TPE(n_startup_trials=5),
        storage_path=storage, name="split", warm_start=pairs)
    # resumed without warm_start: the stored results seed the replayed searcher
    resumed = run(bowl, SPACE, num_samples=8, seed=3, search=TPE(n_startup_trials=5),
                  storage_path=storage, name="split", resume=True)
    assert [t.config for t in resumed.trials] == [t.config for t in whole.trials]
    restored = rs.restore(os.path.join(storage, "split"), bowl, num_samples=8, verbose=0,
                          executor="inline")
    assert [t.config for t in restored.trials] == [t.config for t in whole.trials]
    with pytest.raises(ResumeMismatch, match="warm_start changed"):
        run(bowl, SPACE, num_samples=8, seed=3, search=TPE(n_startup_trials=5),
            storage_path=storage, name="split", resume=True, warm_start=pairs[:5])


@pytest.mark.parametrize("bad, error, match", [
    (42, TypeError, "warm_start must be an experiment directory"),
    ([{"x": 1.0}], TypeError, r"warm_start\[0\]: expected a \(config dict, result\) pair"),
    ([({"x": 1.0, "y": 1.0}, "good")], TypeError, r"warm_start\[0\]: the result must be"),
    ([({"x": 1.0, "y": 1.0}, {"acc": 1.0})], ValueError, "no finite 'loss'"),
])
def test_bad_warm_start_is_refused_before_any_trial(storage, bad, error, match):
    calls = []
    with pytest.raises(error, match=match):
        run(lambda c: calls.append(c) or 0.0, SPACE, storage_path=storage, warm_start=bad)
    assert calls == []


def test_missing_previous_experiment_is_a_clear_error(storage):
    with pytest.raises(ValueError, match="warm_start: cannot read the experiment"):
        run(bowl, SPACE, storage_path=storage, warm_start=os.path.join(storage, "nope"))
