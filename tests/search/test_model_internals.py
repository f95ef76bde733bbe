"""Behaviour particular to one searcher: the SciPy adapter's batches and thread, the GP's
likelihood and acquisitions, TPE's conditional sub-spaces, the swarm and the population."""

from __future__ import annotations

import gc
import math
import threading
import time

import numpy as np
import pytest

from raysweep.search import FINISHED
from raysweep.search.evolution import Evolution
from raysweep.search.gp import GP, _kernel, _log_h, _neg_lml
from raysweep.search.pso import PSO
from raysweep.search.scipy import Scipy
from raysweep.search.tpe import TPE
from raysweep.space import Space, choice, randint, uniform

PLANE = {"x": uniform(-5, 5), "y": uniform(-5, 5)}


def quadratic(config):
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


def started(searcher, spec=PLANE, seed=0):
    searcher.setup(Space(spec), "loss", "min", seed)
    return searcher


# -- SciPy adapter -----------------------------------------------------------------------------
def test_population_methods_hand_out_a_whole_batch_at_once():
    searcher = started(Scipy("differential_evolution", popsize=4))
    batch = [searcher.suggest(f"t{i}") for i in range(8)]  # popsize * d = 8
    assert all(isinstance(c, dict) for c in batch)
    assert searcher.suggest("t8") is None and searcher.suggest("t8") is None
    for i, config in enumerate(batch[:-1]):
        searcher.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    assert searcher.suggest("t8") is None  # one result still out
    searcher.observe("t7", {"loss": quadratic(batch[-1])}, final=True)
    assert isinstance(searcher.suggest("t8"), dict)  # the next generation


def test_sequential_methods_propose_one_point_at_a_time():
    searcher = started(Scipy("powell"))
    first = searcher.suggest("t0")
    assert isinstance(first, dict) and searcher.suggest("t1") is None
    searcher.observe("t0", {"loss": quadratic(first)}, final=False)
    assert searcher.suggest("t1") is None  # only the final result counts
    searcher.observe("t0", {"loss": quadratic(first)}, final=True)
    assert isinstance(searcher.suggest("t1"), dict)


def test_finished_optimiser_keeps_returning_finished():
    searcher = started(Scipy("brute", Ns=3))  # a 3 x 3 grid, no polish
    configs = [searcher.suggest(f"t{i}") for i in range(9)]
    assert len({(c["x"], c["y"]) for c in configs}) == 9
    for i, config in enumerate(configs):
        searcher.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    assert searcher.suggest("t9") is FINISHED
    assert searcher.suggest("t9") is FINISHED


def test_results_arriving_out_of_order_give_the_same_next_batch():
    runs = []
    for order in (range(8), reversed(range(8))):
        searcher = started(Scipy("differential_evolution", popsize=4), seed=9)
        batch = [searcher.suggest(f"t{i}") for i in range(8)]
        for i in order:
            searcher.observe(f"t{i}", {"loss": quadratic(batch[i])}, final=True)
        runs.append([searcher.suggest(f"u{i}") for i in range(8)])
    assert runs[0] == runs[1]


def test_failed_trials_reach_the_optimiser_as_finite_bad_values():
    searcher = started(Scipy("nelder-mead"), seed=1)
    for i in range(30):
        config = searcher.suggest(f"t{i}")
        result = {} if i % 3 == 0 else {"loss": quadratic(config)}
        searcher.observe(f"t{i}", result, final=True)
    assert isinstance(searcher.suggest("t30"), dict)


def test_an_optimiser_error_surfaces_in_suggest():
    searcher = started(Scipy("differential_evolution", strategy="no-such-strategy"))
    with pytest.raises(RuntimeError, match="the SciPy optimiser failed"):
        searcher.suggest("t0")


def _scipy_threads():
    return [t for t in threading.enumerate() if t.name.startswith("raysweep-scipy")]


def test_the_optimiser_thread_ends_with_its_searcher():
    before = len(_scipy_threads())
    searcher = started(Scipy("differential_evolution", popsize=4))
    searcher.suggest("t0")
    assert len(_scipy_threads()) == before + 1
    del searcher
    gc.collect()
    deadline = time.monotonic() + 5
    while len(_scipy_threads()) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_scipy_threads()) == before


def test_a_space_without_free_parameters_gives_one_config():
    searcher = started(Scipy("powell"), {"a": 1, "b": "x"})
    assert searcher.suggest("t0") == {"a": 1, "b": "x"}
    searcher.observe("t0", {"loss": 1.0}, final=True)
    assert searcher.suggest("t1") is FINISHED


# -- GP ----------------------------------------------------------------------------------------
def test_gp_likelihood_matches_scikit_learn():
    from sklearn.gaussian_process import GaussianProcessRegressor

    rng = np.random.default_rng(0)
    X, y = rng.random((25, 3)), rng.normal(size=25)
    kernel = _kernel(3)
    gpr = GaussianProcessRegressor(kernel, optimizer=None, alpha=1e-10).fit(X, y)
    sq = (X[:, None, :] - X[None, :, :]) ** 2
    for _ in range(5):
        theta = kernel.theta + rng.normal(size=len(kernel.theta)) * 0.5
        expected, expected_grad = gpr.log_marginal_likelihood(theta, eval_gradient=True)
        value, grad = _neg_lml(theta, sq, y)
        assert value == pytest.approx(-expected, rel=1e-8)
        np.testing.assert_allclose(grad, -expected_grad, rtol=1e-6, atol=1e-8)


def test_log_expected_improvement_is_stable_in_the_tails():
    from scipy.stats import norm

    z = np.array([-30.0, -8.0, -1.0, 0.0, 1.0, 8.0, 30.0])
    log_h, ratio = _log_h(z)
    assert np.all(np.isfinite(log_h)) and np.all(np.isfinite(ratio))
    inside = np.abs(z) < 20
    h = norm.pdf(z[inside]) + z[inside] * norm.cdf(z[inside])
    np.testing.assert_allclose(log_h[inside], np.log(h), rtol=1e-7)
    np.testing.assert_allclose(ratio[inside], norm.cdf(z[inside]) / h, rtol=1e-7)


def test_gp_with_ucb_converges_too():
    searcher = started(GP(acquisition="ucb", n_startup_trials=5, n_candidates=256), seed=1)
    best = math.inf
    for i in range(25):
        config = searcher.suggest(f"t{i}")
        best = min(best, quadratic(config))
        searcher.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    assert best < 0.01


def test_gp_pending_trials_push_proposals_apart():
    searcher = started(GP(n_startup_trials=5, n_candidates=256), seed=2)
    for i in range(10):
        config = searcher.suggest(f"t{i}")
        searcher.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    batch = [searcher.suggest(f"p{i}") for i in range(4)]
    points = np.array([[c["x"], c["y"]] for c in batch])
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(points) for b in points[i + 1:]]
    assert min(gaps) > 1e-3


# -- TPE ---------------------------------------------------------------------------------------
def test_tpe_liar_counts_only_the_last_max_history_running_trials():
    searcher = started(TPE(n_startup_trials=3, max_history=4))
    for i in range(3):
        config = searcher.suggest(f"d{i}")
        searcher.observe(f"d{i}", {"loss": quadratic(config)}, final=True)
    handed = [searcher.suggest(f"p{i:02d}") for i in range(10)]  # 10 running at once
    assert all(isinstance(config, dict) for config in handed)
    U, _active = searcher._pending_arrays(4)
    newest = [searcher._u[f"p{i:02d}"] for i in range(6, 10)]
    np.testing.assert_array_equal(U, np.array(newest))
    assert len(searcher._pending_arrays()[0]) == 10
    searcher.observe("p09", {"loss": 1.0}, final=True)  # a finished one leaves the liar
    np.testing.assert_array_equal(searcher._pending_arrays(4)[0],
                                  np.array([searcher._u[f"p{i:02d}"] for i in range(5, 9)]))


def test_tpe_learns_which_branch_is_better():
    spec = {"model": choice([{"kind": "a", "x": uniform(0, 1)},
                             {"kind": "b", "k": randint(0, 10)}])}

    def loss(config):
        model = config["model"]
        return (model["x"] - 0.3) ** 2 if model["kind"] == "a" else 1.0 + model["k"]

    searcher = started(TPE(n_startup_trials=8), spec, seed=3)
    kinds = []
    for i in range(40):
        config = searcher.suggest(f"t{i}")
        kinds.append(config["model"]["kind"])
        searcher.observe(f"t{i}", {"loss": loss(config)}, final=True)
    assert kinds[20:].count("a") >= 15


def test_univariate_tpe_converges():
    searcher = started(TPE(n_startup_trials=5, multivariate=False), seed=0)
    best = math.inf
    for i in range(60):
        config = searcher.suggest(f"t{i}")
        best = min(best, quadratic(config))
        searcher.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    assert best < 0.05


def test_tpe_with_bounded_history_keeps_the_best_and_the_recent():
    from raysweep.search.tpe import _bounded_history

    loss = np.array([5.0, 1.0, 7.0, 1.0, 9.0, 0.5, 8.0, 6.0, 4.0, 3.0])
    # the 2 best (0.5, then the earlier 1.0) and the 3 most recent
    assert _bounded_history(loss, limit=5, n_best=2).tolist() == [1, 5, 7, 8, 9]
    assert _bounded_history(loss, limit=3, n_best=5).tolist() == [1, 3, 5]


def test_tpe_with_bounded_history_still_converges():
    unbounded = started(TPE(n_startup_trials=5, max_history=None), seed=0)
    bounded = started(TPE(n_startup_trials=5, max_history=30), seed=0)
    best = math.inf
    for i in range(80):
        config = bounded.suggest(f"t{i}")
        if i < 30:  # the same proposals until the history outgrows the bound
            assert config == unbounded.suggest(f"t{i}")
            unbounded.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
        best = min(best, quadratic(config))
        bounded.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    assert best < 0.05


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_tpe_rejects_a_bad_max_history(value):
    with pytest.raises(ValueError, match="TPE: max_history must be an int >= 1"):
        TPE(max_history=value)


# -- population searchers ----------------------------------------------------------------------
def test_pso_never_runs_more_trials_than_particles():
    searcher = started(PSO(n_particles=4))
    configs = [searcher.suggest(f"t{i}") for i in range(4)]
    assert all(isinstance(c, dict) for c in configs)
    assert searcher.suggest("t4") is None
    searcher.observe("t2", {"loss": 1.0}, final=True)
    assert isinstance(searcher.suggest("t4"), dict)


def test_evolution_children_stay_near_good_parents():
    searcher = started(Evolution(population_size=10, mutation_scale=0.05), seed=4)
    losses = []
    for i in range(80):
        config = searcher.suggest(f"t{i}")
        losses.append(quadratic(config))
        searcher.observe(f"t{i}", {"loss": losses[-1]}, final=True)
    assert np.median(losses[-20:]) < np.median(losses[:10]) / 10


def test_gp_with_bounded_history_fits_on_the_best_and_the_recent(monkeypatch):
    import raysweep.search.gp as gp_module

    sizes = []
    fit = gp_module._Posterior.fit

    def recording(X, *args, **kwargs):
        sizes.append(len(X))
        return fit(X, *args, **kwargs)

    monkeypatch.setattr(gp_module._Posterior, "fit", staticmethod(recording))
    searcher = started(GP(n_startup_trials=5, n_candidates=64, max_history=12), seed=1)
    best = math.inf
    for i in range(40):
        config = searcher.suggest(f"t{i}")
        best = min(best, quadratic(config))
        searcher.observe(f"t{i}", {"loss": quadratic(config)}, final=True)
    assert sizes and max(sizes) == 12  # never more than max_history finished trials
    assert best < 0.5
    with pytest.raises(ValueError, match="GP: max_history must be None or an int >= 2, got 1"):
        GP(max_history=1)
