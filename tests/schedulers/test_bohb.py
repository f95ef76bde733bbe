"""BOHB: the Hyperband half, the pairing rules and the KDE searcher."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from raysweep.schedulers.bohb import _KDE, BOHB, BOHBSearcher
from raysweep.schedulers.hyperband import Hyperband
from raysweep.search import Grid, Random
from raysweep.space import Space, choice, loguniform, randint, uniform


def _searcher(space: dict, seed: int = 0, **kwargs) -> BOHBSearcher:
    searcher = BOHBSearcher(**kwargs)
    searcher.setup(Space(space), "loss", "min", seed)
    return searcher


def _feed(searcher: BOHBSearcher, trial_id: str, loss: float, iterations=(1,)) -> dict:
    config = searcher.suggest(trial_id)
    for iteration in iterations:
        searcher.observe(trial_id, {"loss": loss(config) if callable(loss) else loss,
                                    "training_iteration": iteration}, final=False)
    searcher.observe(trial_id, {}, final=True)
    return config


def test_the_scheduler_half_is_hyperband():
    assert [(b.size, b.milestones) for b in BOHB(max_t=27).plan()] == \
        [(b.size, b.milestones) for b in Hyperband(max_t=27).plan()]
    assert BOHB.pauses and BOHB().name == "bohb"


def test_the_paired_searcher_buckets_at_the_rungs():
    searcher = BOHB(max_t=9, num_samples=16, top_n_percent=20).make_searcher()
    assert isinstance(searcher, BOHBSearcher)
    assert searcher.budgets == [1.0, 3.0, 9.0]
    assert (searcher.num_candidates, searcher.top_n_percent) == (16, 20)


def test_a_grid_searcher_is_refused_by_name():
    with pytest.raises(ValueError, match=r"BOHB: the Grid searcher cannot feed BOHB"):
        BOHB().validate_searcher(Grid())
    BOHB().validate_searcher(Random())  # allowed: plain Hyperband with random configs


def test_a_user_searcher_gets_the_rungs():
    searcher = BOHBSearcher()
    BOHB(max_t=3).validate_searcher(searcher)
    assert searcher.budgets is None  # validation only checks
    configured = BOHB(max_t=3).configure_searcher(searcher)
    assert configured.budgets == [1.0, 3.0]
    assert searcher.budgets is None  # a configured copy: the user's object is left alone
    assert BOHB(max_t=3).configure_searcher(configured) is configured


def test_a_searcher_measuring_budgets_in_another_time_attr_is_refused():
    searcher = BOHBSearcher()  # training_iteration
    with pytest.raises(ValueError, match=r"BOHB: the BOHBSearcher measures budgets in "
                                         r"time_attr='training_iteration' but the scheduler "
                                         r"in time_attr='time_total_s'"):
        BOHB(time_attr="time_total_s", max_t=9).validate_searcher(searcher)
    matching = BOHBSearcher(time_attr="time_total_s")
    BOHB(time_attr="time_total_s", max_t=9).validate_searcher(matching)
    configured = BOHB(time_attr="time_total_s", max_t=9).configure_searcher(matching)
    assert configured.budgets == [1.0, 3.0, 9.0]


def test_the_searcher_refuses_grid_domains():
    from raysweep.space import grid
    with pytest.raises(ValueError, match=r"BOHBSearcher: grid domains"):
        _searcher({"x": grid([1, 2])})


def test_results_are_bucketed_once_per_trial_and_budget():
    searcher = _searcher({"x": uniform(0, 1)}, budgets=[1, 3, 9])
    _feed(searcher, "a", 0.5, iterations=range(1, 10))
    _feed(searcher, "b", 0.7, iterations=range(1, 4))
    assert searcher.observations_ == {1.0: {"a": 0.5, "b": 0.7}, 3.0: {"a": 0.5, "b": 0.7},
                                      9.0: {"a": 0.5}}


def test_without_budgets_every_value_is_a_budget():
    searcher = _searcher({"x": uniform(0, 1)})
    _feed(searcher, "a", 0.5, iterations=(1, 2))
    assert sorted(searcher.observations_) == [1.0, 2.0]


def test_the_model_uses_the_largest_budget_with_enough_points():
    searcher = _searcher({"x": uniform(0, 1), "y": uniform(0, 1)}, budgets=[1, 3])
    assert searcher.min_points_ == 3  # d + 1
    for i in range(5):
        assert searcher.model_budget() is None
        _feed(searcher, f"a{i}", float(i), iterations=(1,))
    assert searcher.model_budget() == 1.0  # 5 = min_points + 2
    for i in range(4):
        _feed(searcher, f"b{i}", float(i), iterations=(1, 2, 3))
    assert searcher.model_budget() == 1.0  # budget 3 has 4 < 5
    _feed(searcher, "c", 0.0, iterations=(1, 3))
    assert searcher.model_budget() == 3.0


def test_proposals_concentrate_where_losses_are_low():
    def loss(config):
        return (config["x"] - 0.7) ** 2 + (0.0 if config["kind"] == "b" else 0.5)

    space = {"x": uniform(0, 1), "kind": ["a", "b", "c"]}
    distances, kinds = [], []
    for seed in range(4):
        searcher = _searcher(space, seed=seed)  # a third of the first 40 are random
        for i in range(40):
            _feed(searcher, f"{i:05d}", loss)
        searcher.random_fraction = 0.0
        proposals = [searcher.suggest(f"p{i}") for i in range(30)]
        distances += [abs(c["x"] - 0.7) for c in proposals]
        kinds += [c["kind"] for c in proposals]
    assert np.mean(distances) < 0.12  # random search: 0.29
    assert kinds.count("b") >= 0.8 * len(kinds)


def test_mode_max_prefers_high_values():
    searcher = BOHBSearcher(random_fraction=0.0)
    searcher.setup(Space({"x": uniform(0, 1)}), "score", "max", 0)
    for i in range(30):
        config = searcher.suggest(str(i))
        searcher.observe(str(i), {"score": config["x"], "training_iteration": 1}, final=True)
    assert np.mean([searcher.suggest(f"p{i}")["x"] for i in range(20)]) > 0.75


def test_ints_and_conditional_spaces_give_valid_configs():
    space = Space({"lr": loguniform(1e-4, 1e-1), "layers": randint(1, 5),
                   "model": choice([{"type": "knn", "k": randint(1, 30)},
                                    {"type": "svm", "C": loguniform(1e-2, 1e2)}])})
    searcher = BOHBSearcher(random_fraction=0.0)
    searcher.setup(space, "loss", "min", 3)
    for i in range(30):
        _feed(searcher, str(i), lambda c: c["layers"] + (c["model"]["type"] == "svm"))
    for i in range(20):
        config = searcher.suggest(f"p{i}")
        assert space.contains(config), config
    assert searcher.model_budget() == 1.0


def test_same_seed_same_proposals():
    def run(seed):
        searcher = _searcher({"x": uniform(0, 1), "k": randint(0, 10)}, seed=seed)
        return [_feed(searcher, str(i), lambda c: c["x"] * c["k"]) for i in range(30)]

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_kernels_are_densities():
    U = np.array([[0.05, 0.1], [0.5, 0.9], [0.97, 0.5]])
    A = np.ones_like(U, dtype=bool)
    kde = _KDE(U, A, ["float", "categorical"], np.array([0, 4]), np.array([1e-3, 1e-3]))
    # marginal of the float dim: integrate over [0, 1] with the categorical dim switched off
    def density(x):
        return float(np.exp(kde.log_pdf(np.array([[x, 0.5]]), np.array([[True, False]]))[0]))

    assert quad(density, 0, 1, points=[0.05, 0.5, 0.97], limit=200)[0] == pytest.approx(1, abs=1e-3)
    cats = np.array([[0.5, (c + 0.5) / 4] for c in range(4)])
    probs = np.exp(kde.log_pdf(cats, np.array([[False, True]] * 4)))
    assert probs.sum() == pytest.approx(1.0)
    samples = kde.sample(np.random.default_rng(0), 500, 3.0)
    assert samples.min() >= 0 and samples.max() <= 1


def test_inactive_dims_are_left_out_of_the_kernel():
    U = np.array([[0.2, 0.9]])
    kde = _KDE(U, np.array([[True, False]]), ["float", "float"], np.zeros(2, int),
               np.full(2, 0.05))
    a = kde.log_pdf(np.array([[0.2, 0.1]]), np.array([[True, True]]))
    b = kde.log_pdf(np.array([[0.2, 0.9]]), np.array([[True, True]]))
    assert a == pytest.approx(b)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reduction_factor": 1}, r"BOHB: reduction_factor must be a number > 1, got 1"),
    ({"min_points_in_model": 0}, (r"BOHB: min_points_in_model must be None \(dims \+ 1\) or "
                                 r"an int >= 1, got 0")),
    ({"top_n_percent": 100}, r"BOHB: top_n_percent must be a number in \(0, 100\), got 100"),
    ({"num_samples": 0}, r"BOHB: num_samples must be an int >= 1, got 0"),
    ({"random_fraction": 1.5}, r"BOHB: random_fraction must be a number in \[0, 1\], got 1.5"),
    ({"bandwidth_factor": 0}, r"BOHB: bandwidth_factor must be a number > 0, got 0"),
    ({"min_bandwidth": 0}, r"BOHB: min_bandwidth must be a number in \(0, 1\), got 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BOHB(**kwargs)


def test_bad_searcher_arguments():
    with pytest.raises(ValueError, match=r"BOHBSearcher: num_candidates must be an int >= 1"):
        BOHBSearcher(num_candidates=0)


def test_bandwidths_do_not_collapse_when_good_configs_agree():
    U = np.full((8, 2), 0.3)
    U[:, 1] = 0.125  # category 0 of 4 for every point
    kde = _KDE(U, np.ones_like(U, dtype=bool), ["float", "categorical"], np.array([0, 4]),
               np.array([1e-3, 1e-3]))
    assert kde.bw[0] == pytest.approx(1 / 9)  # 1 / (1 + n), not min_bandwidth
    assert kde.bw[1] == pytest.approx(0.75 / 9)
