import numpy as np
import pytest

from scrutiny.stats import bootstrap_mean_discrete, make_rng


def test_make_rng_uses_a_generator_as_it_is_and_seeds_default_rng_with_an_int():
    g = np.random.default_rng(5)
    assert make_rng(g, "f") is g
    assert make_rng(np.int64(7), "f").integers(1 << 30) == np.random.default_rng(7).integers(1 << 30)


@pytest.mark.parametrize("seed", [None, True, -1, 1.5, [1, 2]])
def test_make_rng_refuses_anything_else_and_names_the_function(seed):
    with pytest.raises(ValueError, match="^f: seed must be"):
        make_rng(seed, "f")


def test_the_callers_give_the_same_numbers_for_an_int_and_its_generator():
    hits = np.r_[np.ones(30), np.zeros(20)]
    by_int = bootstrap_mean_discrete(hits, reps=200, seed=3)
    assert by_int == bootstrap_mean_discrete(hits, reps=200, seed=np.random.default_rng(3))
    with pytest.raises(ValueError, match="bootstrap_mean_discrete: seed"):
        bootstrap_mean_discrete(hits, reps=200, seed=None)  # type: ignore[arg-type]
