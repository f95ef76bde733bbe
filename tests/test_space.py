"""Search spaces and domains: sampling, unit-cube encoding, grids, validation."""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from raysweep.errors import InvalidSpace
from raysweep.space import (
    Categorical,
    Dim,
    Domain,
    Fixed,
    Float,
    Grid,
    Int,
    Normal,
    ScipyDist,
    Space,
    choice,
    fixed,
    flatten,
    grid,
    lograndint,
    loguniform,
    normal,
    qloguniform,
    qrandint,
    quniform,
    randint,
    unflatten,
    uniform,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAIN = (bool, int, float, str, type(None), tuple, list, dict)


def draws(domain: Domain, n: int = 40, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [domain.sample(rng) for _ in range(n)]


def as_key(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def assert_domain_contract(domain: Domain, values: list) -> None:
    """Shared checks: values contained, plain Python types, exact unit round trip."""
    for value in values:
        assert domain.contains(value), value
        assert type(value) in PLAIN, type(value)
        u = domain.to_unit(value)
        assert isinstance(u, float) and 0.0 <= u <= 1.0
        assert domain.from_unit(u) == value
    for u in (0.0, 1e-300, 0.25, 0.5, 1 - 1e-16, 1.0):
        value = domain.from_unit(u)
        assert domain.contains(value), (u, value)
        assert domain.from_unit(domain.to_unit(value)) == value
    assert json.loads(json.dumps(domain.to_json())) == domain.to_json()


# -- numeric domains ---------------------------------------------------------------------------
bounds = st.tuples(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6)).map(lambda t: (t[0], t[0] + t[1]))
log_bounds = st.tuples(st.floats(-12, 8), st.floats(1e-3, 12)).map(
    lambda t: (10.0 ** t[0], 10.0 ** (t[0] + t[1])))


@FAST
@given(bounds, st.integers(0, 2**32))
def test_uniform_samples_inside_and_round_trip(lh, seed):
    low, high = lh
    assume(low < high)
    domain = uniform(low, high)
    values = draws(domain, seed=seed)
    assert all(type(v) is float and low <= v <= high for v in values)
    assert_domain_contract(domain, values)
    assert domain.from_unit(0.0) == low and domain.from_unit(1.0) == high
    assert domain.kind == "float" and domain.size is None


@FAST
@given(log_bounds, st.integers(0, 2**32))
def test_loguniform_samples_inside_and_round_trip(lh, seed):
    low, high = lh
    assume(low < high)
    domain = loguniform(low, high)
    values = draws(domain, seed=seed)
    assert all(type(v) is float and low <= v <= high for v in values)
    assert_domain_contract(domain, values)


def test_loguniform_is_uniform_in_log_space():
    values = np.log10(draws(loguniform(1e-4, 1e4), n=4000))
    assert abs(np.mean(values < 0) - 0.5) < 0.05


@FAST
@given(st.floats(-100, 100), st.floats(0.5, 100), st.sampled_from([0.1, 0.25, 0.5, 1.0, 3.0, 0.05]),
       st.booleans(), st.integers(0, 2**32))
def test_quantized_floats_are_multiples_of_q(low, width, q, log, seed):
    if log:
        low = abs(low) + 0.01
    high = low + width
    assume(math.floor(high / q) >= math.ceil(low / q) + 0.0)
    try:
        domain = qloguniform(low, high, q) if log else quniform(low, high, q)
    except InvalidSpace:
        return  # no multiple of q in range (checked separately)
    values = draws(domain, seed=seed)
    for v in values:
        assert type(v) is float
        assert low - 1e-9 <= v <= high + 1e-9
        assert abs(v / q - round(v / q)) < 1e-9
    assert_domain_contract(domain, values)


def test_quniform_values_look_as_typed_and_include_high():
    domain = quniform(0, 1, 0.1)
    assert domain.from_unit(0.35) == 0.3  # not 0.30000000000000004
    assert domain.from_unit(1.0) == 1.0 and domain.from_unit(0.0) == 0.0
    assert sorted(set(draws(domain, n=400))) == [i / 10 for i in range(11)]
    assert domain.size == 11


@FAST
@given(st.integers(-1000, 1000), st.integers(1, 60), st.booleans(), st.integers(0, 2**32))
def test_randint_excludes_high(low, width, log, seed):
    if log:
        low = abs(low) + 1
    high = low + width
    domain = lograndint(low, high) if log else randint(low, high)
    values = draws(domain, seed=seed)
    assert all(type(v) is int and low <= v < high for v in values)
    assert domain.from_unit(1.0) == high - 1 and domain.from_unit(0.0) == low
    assert domain.size == width
    assert not domain.contains(high) and domain.contains(high - 1)
    assert_domain_contract(domain, list(range(low, high)))  # every value round-trips
    assert domain.kind == "int"


def test_randint_is_uniform_and_lograndint_favours_small():
    values = draws(randint(0, 4), n=4000)
    assert set(values) == {0, 1, 2, 3}
    assert max(np.bincount(values)) / 4000 < 0.3
    log_values = np.array(draws(lograndint(1, 1000), n=4000))
    assert abs(np.mean(log_values < 32) - 0.5) < 0.05  # sqrt(1000) ~ 31.6


@FAST
@given(st.integers(-200, 200), st.integers(0, 200), st.integers(1, 20), st.integers(0, 2**32))
def test_qrandint_includes_high(low, width, q, seed):
    high = low + width + 1
    top = high // q * q
    assume(top >= low)
    domain = qrandint(low, high, q)
    values = draws(domain, seed=seed)
    assert all(type(v) is int and low <= v <= high and v % q == 0 for v in values)
    assert domain.from_unit(1.0) == top
    assert domain.contains(top)
    assert_domain_contract(domain, values)


def test_qrandint_examples():
    assert sorted(set(draws(qrandint(0, 10, 5), n=200))) == [0, 5, 10]
    assert sorted(set(draws(qrandint(1, 10), n=400))) == list(range(1, 11))
    assert sorted(set(draws(qrandint(1, 10, 3), n=200))) == [3, 6, 9]


@FAST
@given(st.floats(-1e3, 1e3), st.floats(1e-3, 1e3),
       st.one_of(st.none(), st.sampled_from([0.1, 1.0, 2.5])), st.integers(0, 2**32))
def test_normal_round_trip(mean, sd, q, seed):
    domain = normal(mean, sd, q=q)
    values = draws(domain, seed=seed)
    assert all(type(v) is float for v in values)
    assert_domain_contract(domain, values)


def test_normal_moments():
    values = np.array(draws(normal(5.0, 2.0), n=4000))
    assert abs(values.mean() - 5.0) < 0.15 and abs(values.std() - 2.0) < 0.15


# -- categorical, fixed, scipy ---------------------------------------------------------------
@FAST
@given(st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()),
                min_size=1, max_size=12, unique_by=lambda x: (type(x), x)),
       st.booleans())
def test_categorical_index_encoding(categories, as_grid):
    assume(not any(a == b and type(a) is not type(b) and not isinstance(a, bool)
                   for a, b in itertools.combinations(categories, 2)))
    domain = grid(categories) if as_grid else choice(categories)
    n = len(categories)
    for i, category in enumerate(categories):
        assert domain.to_unit(category) == (i + 0.5) / n
        assert domain.from_unit((i + 0.5) / n) == category
        assert type(domain.from_unit((i + 0.5) / n)) is type(category)
    assert_domain_contract(domain, draws(domain))
    assert domain.kind == "categorical" and domain.categories == categories


def test_categorical_keeps_true_apart_from_one_and_returns_python_types():
    domain = choice([1, True, np.int64(7), np.float32(0.5)])
    assert domain.categories == [1, True, 7, 0.5]
    assert [type(c) for c in domain.categories] == [int, bool, int, float]
    assert domain.to_unit(True) == 0.375 and domain.to_unit(1) == 0.125
    with pytest.raises(InvalidSpace, match="is not one of the categories"):
        domain.to_unit("x")


def test_fixed_domain():
    domain = fixed([1, 2])
    assert domain.kind == "fixed"
    values = draws(domain, n=3)
    assert values == [[1, 2]] * 3 and values[0] is not values[1]  # fresh copies
    assert domain.from_unit(0.9) == [1, 2] and domain.to_unit([1, 2]) == 0.5


CONTINUOUS = [scipy.stats.expon(scale=100), scipy.stats.loguniform(1e-4, 1e1),
              scipy.stats.norm(3, 2), scipy.stats.beta(2, 5), scipy.stats.uniform(-1, 4)]
DISCRETE = [scipy.stats.randint(1, 40), scipy.stats.poisson(3), scipy.stats.binom(10, 0.3)]


@pytest.mark.parametrize("dist", CONTINUOUS, ids=lambda d: d.dist.name)
def test_scipy_continuous(dist):
    domain = ScipyDist(dist)
    values = draws(domain, n=25)
    assert domain.kind == "float" and all(type(v) is float for v in values)
    lo, hi = dist.support()
    assert all(lo <= v <= hi for v in values)
    assert_domain_contract(domain, values)


@pytest.mark.parametrize("dist", DISCRETE, ids=lambda d: d.dist.name)
def test_scipy_discrete(dist):
    domain = ScipyDist(dist)
    values = draws(domain, n=25)
    assert domain.kind == "int" and all(type(v) is int for v in values)
    assert_domain_contract(domain, values)


def test_scipy_randint_excludes_high_and_matches_distribution():
    values = draws(ScipyDist(scipy.stats.randint(1, 40)), n=600)
    assert min(values) == 1 and max(values) == 39
    expon = np.array(draws(ScipyDist(scipy.stats.expon(scale=100)), n=600))
    assert abs(expon.mean() - 100) < 15


def test_scipy_json_and_equality():
    domain = ScipyDist(scipy.stats.expon(scale=100))
    assert domain.to_json() == {"type": "scipy", "dist": "expon", "args": [],
                                "kwds": {"scale": 100}}
    assert ScipyDist(scipy.stats.randint(1, 40)).to_json()["args"] == [1, 40]
    assert domain == ScipyDist(scipy.stats.expon(scale=100))
    assert domain != ScipyDist(scipy.stats.expon(scale=10))


def test_domain_json_is_stable_and_equal_domains_compare_equal():
    assert uniform(0, 1).to_json() == {"type": "float", "low": 0.0, "high": 1.0, "log": False,
                                       "q": None}
    assert randint(1, 30).to_json() == {"type": "int", "low": 1, "high": 30, "q": 1,
                                        "log": False, "include_high": False}
    assert qrandint(0, 10, 5).to_json()["include_high"] is True
    assert grid([1, 2]).to_json() == {"type": "grid", "values": [1, 2]}
    assert uniform(0, 1) == uniform(0.0, 1) and uniform(0, 1) != loguniform(0.5, 1)
    assert choice([1, 2]) != grid([1, 2]) and isinstance(grid([1]), Categorical)
    assert len({uniform(0, 1), uniform(0, 1), randint(0, 3)}) == 2
    assert "low=0.0" in repr(uniform(0, 1))


# -- validation ------------------------------------------------------------------------------
BAD_DOMAINS = [
    (lambda: uniform(3, 1), r"uniform: low must be < high, got low=3, high=1"),
    (lambda: uniform(1, 1), r"uniform: low must be < high"),
    (lambda: loguniform(0, 1), r"loguniform: low must be > 0 on a log scale, got low=0"),
    (lambda: loguniform(-1, 1), r"loguniform: low must be > 0"),
    (lambda: lograndint(0, 10), r"lograndint: low must be > 0"),
    (lambda: qloguniform(0, 10, 1), r"qloguniform: low must be > 0"),
    (lambda: quniform(0, 1, 0), r"quniform: q must be > 0, got q=0"),
    (lambda: quniform(0, 1, -0.5), r"quniform: q must be > 0"),
    (lambda: quniform(0.1, 0.2, 1), r"quniform: no multiple of q=1 lies in \[low, high\]"),
    (lambda: qrandint(0, 10, 0), r"qrandint: q must be an integer >= 1, got q=0"),
    (lambda: qrandint(0, 10, 2.5), r"qrandint: q must be an integer >= 1"),
    (lambda: qrandint(1, 4, 5), r"qrandint: no multiple of q=5"),
    (lambda: randint(5, 5), r"randint: low must be < high, got low=5, high=5"),
    (lambda: randint(1.5, 3), r"randint: low must be an integer, got low=1.5"),
    (lambda: uniform("a", 1), r"uniform: low must be a number, got low='a'"),
    (lambda: uniform(0, None), r"uniform: high must be a number, got high=None"),
    (lambda: uniform(True, 2), r"uniform: low must be a number"),
    (lambda: uniform(0, math.inf), r"uniform: high must be finite, got high=inf"),
    (lambda: uniform(math.nan, 1), r"uniform: low must be finite"),
    (lambda: randint(0, 10**400), r"randint: high must be finite"),
    (lambda: uniform(-1e308, 1e308), r"uniform: high - low must be finite"),
    (lambda: choice([]), r"choice: categories must not be empty"),
    (lambda: grid([]), r"grid: categories must not be empty"),
    (lambda: choice("abc"), r"choice: categories must be a list, got str"),
    (lambda: choice(5), r"choice: categories must be a list, got int"),
    (lambda: normal(0, 0), r"normal: sd must be > 0, got sd=0"),
    (lambda: normal(0, 1, q=0), r"normal: q must be > 0"),
    (lambda: normal(math.inf, 1), r"normal: mean must be finite"),
    (lambda: ScipyDist(5), r"expected an object with \.rvs"),
]


@pytest.mark.parametrize("make, message", BAD_DOMAINS, ids=[m for _, m in BAD_DOMAINS])
def test_bad_domains_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
    with pytest.raises(InvalidSpace):
        make()


BAD_SPACES = [
    ({"model": {"k": []}}, r"space\['model/k'\]: choice: categories must not be empty"),
    ({"a": {3: 1}}, r"space\['a'\]: keys must be non-empty strings without '/', got 3"),
    ({"a/b": 1}, r"^space: keys must be non-empty strings without '/', got 'a/b'"),
    ({"": 1}, r"^space: keys must be non-empty strings"),
    ({"m": choice([{"x": grid([1, 2])}, {"y": 1}])},
     r"space\['m/x'\]: grid\(\.\.\.\) inside a branch of the choice 'm'"),
]


@pytest.mark.parametrize("spec, message", BAD_SPACES, ids=[m for _, m in BAD_SPACES])
def test_bad_spaces_name_the_path(spec, message):
    with pytest.raises(InvalidSpace, match=message):
        Space(spec)


def test_space_must_be_a_mapping():
    with pytest.raises(TypeError, match="space must be a dict .*, got list"):
        Space([uniform(0, 1)])


# -- spaces ----------------------------------------------------------------------------------
SVC_SPACE = {
    "C": loguniform(1e-3, 1e3),
    "gamma": scipy.stats.loguniform(1e-4, 1e1),
    "kernel": ["rbf", "poly"],
    "degree": scipy.stats.randint(1, 5),
    "seed": 7, "tag": "x", "none": None, "shape": (2, 3),
    "opt": {"lr": normal(0, 1), "steps": qrandint(10, 100, 10), "nesterov": fixed([True])},
    "model": choice([{"type": "knn", "k": randint(1, 30), "weights": ["uniform", "distance"]},
                     {"type": "svm", "C": loguniform(1e-2, 1e2)},
                     {"type": "none"}]),
}


def test_leaves_lists_constants_and_nesting():
    space = Space(SVC_SPACE)
    assert [d.name for d in space.dims] == [
        "C", "gamma", "kernel", "degree", "opt/lr", "opt/steps", "model", "model/k",
        "model/weights", "model/C"]
    assert [d.key for d in space.dims][-4:] == ["model", "model[0]/k", "model[0]/weights",
                                                "model[1]/C"]
    assert [d.parent for d in space.dims][-4:] == [None, (6, 0), (6, 0), (6, 1)]
    assert isinstance(space.dims[1].domain, ScipyDist) and isinstance(space.dims[2].domain,
                                                                       Categorical)
    config = space.sample(np.random.default_rng(0))
    assert config["seed"] == 7 and config["tag"] == "x" and config["none"] is None
    assert config["shape"] == (2, 3) and config["opt"]["nesterov"] == [True]
    assert config["kernel"] in ("rbf", "poly") and type(config["degree"]) is int
    assert set(flatten(config)) <= set(space.names)
    assert space.names == ["C", "gamma", "kernel", "degree", "seed", "tag", "none", "shape",
                           "opt/lr", "opt/steps", "opt/nesterov", "model/type", "model/k",
                           "model/weights", "model/C"]
    assert not space.has_grid and space.grid_size == 1
    assert all(isinstance(d, Dim) for d in space.dims)


def test_conditional_branches_encode_decode_and_active_masks():
    space = Space(SVC_SPACE)
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(60):
        config = space.sample(rng)
        model = config["model"]
        seen.add(model["type"])
        expected_keys = {"knn": {"type", "k", "weights"}, "svm": {"type", "C"},
                         "none": {"type"}}[model["type"]]
        assert set(model) == expected_keys
        u, active = space.encode(config)
        assert u.shape == active.shape == (len(space.dims),)
        assert np.all((0 <= u) & (u <= 1))
        branch = ["knn", "svm", "none"].index(model["type"])
        for i, dim in enumerate(space.dims):
            expected = dim.parent is None or dim.parent[1] == branch
            assert active[i] == expected, dim.key
            if not expected:
                assert u[i] == 0.5
        assert np.array_equal(space.active(u), active)
        assert space.decode(u) == config
        assert space.contains(config)
    assert seen == {"knn", "svm", "none"}


@FAST
@given(st.lists(st.floats(0, 1), min_size=10, max_size=10))
def test_any_unit_vector_decodes_to_a_valid_config(u):
    space = Space(SVC_SPACE)
    config = space.decode(u)
    assert space.contains(config)
    again = space.decode(space.encode(config)[0])
    assert again == config
    assert np.array_equal(space.encode(config)[1], space.active(u))


def test_nested_conditionals_and_domain_categories():
    space = Space({"outer": choice([
        {"inner": choice([{"a": uniform(0, 1)}, {"b": randint(0, 3)}])},
        {"c": [1, 2]},
        uniform(5, 6),
        "off",
    ])})
    assert [(d.key, d.parent) for d in space.dims] == [
        ("outer", None), ("outer[0]/inner", (0, 0)), ("outer[0]/inner[0]/a", (1, 0)),
        ("outer[0]/inner[1]/b", (1, 1)), ("outer[1]/c", (0, 1)), ("outer[2]", (0, 2))]
    rng = np.random.default_rng(3)
    kinds = set()
    for _ in range(80):
        config = space.sample(rng)
        value = config["outer"]
        kinds.add(type(value).__name__ if not isinstance(value, dict) else "/".join(
            flatten(value)))
        assert space.decode(space.encode(config)[0]) == config
    assert kinds == {"inner/a", "inner/b", "c", "float", "str"}


def test_list_category_inside_a_branch_is_a_value_not_a_choice():
    space = Space({"m": choice([{"layers": fixed([64, 64]), "act": ["relu", "tanh"]}, [1, 2]])})
    assert [d.key for d in space.dims] == ["m", "m[0]/act"]
    config = space.decode([0.9, 0.5])
    assert config == {"m": [1, 2]}
    assert space.decode([0.1, 0.9]) == {"m": {"layers": [64, 64], "act": "tanh"}}


def test_encode_rejects_configs_outside_the_space():
    space = Space(SVC_SPACE)
    config = space.sample(np.random.default_rng(0))
    config["model"] = {"type": "tree"}
    with pytest.raises(InvalidSpace, match=r"space\['model'\]: .* matches none of the 3"):
        space.encode(config)
    assert not space.contains(config)
    with pytest.raises(InvalidSpace, match=r"space\['kernel'\]: choice: 'linear' is not one"):
        space.encode({**space.sample(np.random.default_rng(0)), "kernel": "linear"})
    with pytest.raises(InvalidSpace, match=r"space\['C'\]: missing"):
        space.encode({})
    with pytest.raises(ValueError, match="unit vector must have length 10"):
        space.decode([0.5])


def test_seeds_are_reproducible():
    space = Space(SVC_SPACE)
    a = [space.sample(np.random.default_rng(42)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(42)) for _ in range(3)]
    assert a == b
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    assert [space.sample(rng1) for _ in range(5)] == [space.sample(rng2) for _ in range(5)]
    assert space.sample(np.random.default_rng(1)) != space.sample(np.random.default_rng(2))


def test_complete_keeps_given_values_and_samples_the_rest():
    space = Space(SVC_SPACE)
    rng = np.random.default_rng(0)
    config = space.complete({"C": 5.0, "opt": {"lr": 0.1}, "model": {"type": "svm"}}, rng)
    assert config["C"] == 5.0 and config["opt"]["lr"] == 0.1
    assert config["model"]["type"] == "svm" and set(config["model"]) == {"type", "C"}
    assert space.contains(config)
    flat = space.complete({"opt/steps": 20, "model/k": 3}, rng)
    assert flat["opt"]["steps"] == 20 and flat["model"] == {**flat["model"], "k": 3}
    assert flat["model"]["type"] == "knn"
    with pytest.raises(InvalidSpace, match=r"space\['opt/momentum'\]: not a parameter"):
        space.complete({"opt": {"momentum": 0.9}}, rng)
    with pytest.raises(InvalidSpace, match=r"space\['bogus'\]: not a parameter"):
        space.complete({"bogus": 1}, rng)
    with pytest.raises(InvalidSpace, match=r"space\['model'\]: .* fits none"):
        space.complete({"model": {"type": "tree"}}, rng)
    with pytest.raises(InvalidSpace, match=r"space\['kernel'\]: 'linear' is not one of"):
        space.complete({"kernel": "linear"}, rng)


def test_user_points_out_of_range_are_kept_and_still_encode():
    space = Space(SVC_SPACE)
    point = {"C": 1e6, "model": {"type": "knn", "k": 100}}
    config = space.complete(point, np.random.default_rng(0))
    assert config["C"] == 1e6 and config["model"]["k"] == 100 and not space.contains(config)
    u, active = space.encode(config)
    assert u[0] == 1.0 and u[7] == space.dims[7].domain.to_unit(29)
    assert active[7] and not active[9]


def test_contains():
    space = Space({"x": uniform(0, 1), "n": randint(0, 3), "c": 1})
    assert space.contains({"x": 0.5, "n": 2, "c": 1})
    assert not space.contains({"x": 1.5, "n": 2, "c": 1})
    assert not space.contains({"x": 0.5, "n": 3, "c": 1})
    assert not space.contains({"x": 0.5, "n": 2, "c": 2})
    assert not space.contains({"x": 0.5, "n": 2})
    assert not space.contains([0.5])


def test_to_json_is_plain_stable_and_order_sensitive():
    a, b = Space(SVC_SPACE), Space(dict(SVC_SPACE))
    assert a.to_json() == b.to_json() and a == b
    assert json.loads(json.dumps(a.to_json())) == a.to_json()
    assert Space({"x": [1, 2]}) == Space({"x": choice([1, 2])})
    assert Space({"x": uniform(0, 1)}) != Space({"x": uniform(0, 2)})
    assert Space({"x": 1, "y": 2}) != Space({"y": 2, "x": 1})  # order fixes the dims
    assert Space(a) == a


def test_empty_and_all_fixed_spaces():
    assert Space({}).sample(np.random.default_rng(0)) == {}
    space = Space({"a": 1, "b": {"c": "x"}, "d": {}})
    assert space.dims == [] and space.names == ["a", "b/c", "d"]
    assert space.sample(np.random.default_rng(0)) == {"a": 1, "b": {"c": "x"}, "d": {}}
    assert space.decode([]) == space.sample(np.random.default_rng(0))


# -- flatten ---------------------------------------------------------------------------------
keys = st.text(alphabet="abcxyz_0", min_size=1, max_size=4)
nested = st.recursive(st.one_of(st.integers(), st.text(max_size=3), st.none()),
                      lambda children: st.dictionaries(keys, children, min_size=1, max_size=4),
                      max_leaves=10)


@FAST
@given(st.dictionaries(keys, nested, max_size=5))
def test_flatten_unflatten_round_trip(config):
    flat = flatten(config)
    assert all(not isinstance(v, dict) or v == {} for v in flat.values())
    assert unflatten(flat) == config


def test_flatten_examples():
    assert flatten({"model": {"k": 3}, "x": 1, "e": {}}) == {"model/k": 3, "x": 1, "e": {}}
    assert unflatten({"model/k": 3, "model/w": 1}) == {"model": {"k": 3, "w": 1}}
    assert flatten({"a": {"b": 1}}, sep=".") == {"a.b": 1}
    with pytest.raises(ValueError, match="nests inside"):
        unflatten({"a": 1, "a/b": 2})


# -- grids -----------------------------------------------------------------------------------
def test_grid_order_matches_nested_loops():
    space = Space({"lr": grid([0.1, 0.01]), "opt": {"bs": grid([32, 64, 128])},
                   "x": uniform(0, 1), "c": 3})
    assert space.has_grid and space.grid_size == 6
    points = [space.grid_values(i) for i in range(6)]
    assert points == [{"lr": lr, "opt/bs": bs}
                      for lr, bs in itertools.product([0.1, 0.01], [32, 64, 128])]
    rng = np.random.default_rng(0)
    for i, point in enumerate(points):
        config = space.sample(rng, grid_point=i)
        assert {k: v for k, v in flatten(config).items() if k in point} == point
        assert 0 <= config["x"] <= 1 and config["c"] == 3
    with pytest.raises(IndexError, match=r"must be in \[0, 6\), got 6"):
        space.grid_values(6)


@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_grid_enumerates_every_point_exactly_once(sizes):
    spec = {f"p{i}": grid(list(range(n))) for i, n in enumerate(sizes)}
    space = Space(spec)
    assert space.grid_size == math.prod(sizes)
    seen = [tuple(space.grid_values(i).values()) for i in range(space.grid_size)]
    assert seen == list(itertools.product(*[range(n) for n in sizes]))


def test_huge_grid_is_lazy():
    start = time.perf_counter()
    space = Space({f"p{i}": grid(list(range(10))) for i in range(8)})
    assert space.grid_size == 10**8
    assert space.grid_values(10**8 - 1) == {f"p{i}": 9 for i in range(8)}
    assert space.grid_values(12345678) == {f"p{i}": int(d) for i, d in enumerate("12345678")}
    config = space.sample(np.random.default_rng(0), grid_point=10**8 - 2)
    assert config["p7"] == 8
    assert time.perf_counter() - start < 0.5


SKLEARN_GRID = [
    {"kernel": grid(["rbf"]), "gamma": grid([1e-3, 1e-4]), "C": grid([1, 10, 100])},
    {"kernel": grid(["linear"]), "C": grid([1, 10, 100, 1000])},
    {"kernel": "sigmoid", "C": loguniform(1, 10)},
]


def test_list_of_dict_grid_is_the_sum_of_branch_grids():
    space = Space({"params": grid(SKLEARN_GRID), "seed": grid([0, 1])})
    assert space.grid_size == (6 + 4 + 1) * 2
    points = [space.grid_values(i) for i in range(space.grid_size)]
    assert len({json.dumps(p, sort_keys=True) for p in points}) == space.grid_size
    assert points[0] == {"params/kernel": "rbf", "params/gamma": 1e-3, "params/C": 1, "seed": 0}
    assert points[1] == {"params/kernel": "rbf", "params/gamma": 1e-3, "params/C": 1, "seed": 1}
    assert points[-1] == {"params/kernel": "sigmoid", "seed": 1}
    rng = np.random.default_rng(0)
    for i, point in enumerate(points):
        config = space.sample(rng, grid_point=i)
        flat = flatten(config)
        assert {k: flat[k] for k in point} == point
        assert space.contains(config) and space.decode(space.encode(config)[0]) == config
        if point["params/kernel"] == "sigmoid":
            assert 1 <= config["params"]["C"] <= 10


def test_list_of_dict_grid_matches_sklearn_parameter_grid():
    model_selection = pytest.importorskip("sklearn.model_selection")
    param_grid = [{"kernel": ["rbf"], "gamma": [1e-3, 1e-4], "C": [1, 10, 100]},
                  {"kernel": ["linear"], "C": [1, 10, 100, 1000]}]
    space = Space({"p": grid([{k: grid(v) for k, v in d.items()} for d in param_grid])})
    ours = [space.sample(np.random.default_rng(0), grid_point=i)["p"]
            for i in range(space.grid_size)]
    expected = list(model_selection.ParameterGrid(param_grid))
    assert sorted(map(as_key, ours)) == sorted(map(as_key, expected))


def test_nested_grids_inside_grid_branches():
    space = Space({"m": grid([{"a": grid([1, 2]), "b": grid([{"c": grid([1, 2, 3])}, "no"])},
                              "plain"])})
    assert space.grid_size == 2 * (3 + 1) + 1
    configs = [space.sample(np.random.default_rng(0), grid_point=i)
               for i in range(space.grid_size)]
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == space.grid_size
    assert configs[-1] == {"m": "plain"}


def test_grid_domains_are_sampled_uniformly_without_a_grid_point():
    space = Space({"g": grid([1, 2, 3])})
    rng = np.random.default_rng(0)
    assert {space.sample(rng)["g"] for _ in range(100)} == {1, 2, 3}
    assert isinstance(space.dims[0].domain, Grid)


def test_domain_classes_are_exported():
    assert all(issubclass(c, Domain) for c in (Float, Int, Categorical, Grid, Fixed, Normal,
                                              ScipyDist))
