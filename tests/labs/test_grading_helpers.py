"""ck.grading: the assertions of the assignments' test cells."""
import pytest
import torch
import torch.nn.functional as F

import coursekit as ck
from coursekit.labs.grading import (
    GradingError,
    assert_band,
    assert_close,
    energy_distance,
    own_code,
)
from coursekit.models import vae


def kl_own(mu, log_sigma):
    return 0.5 * (mu ** 2 + (2 * log_sigma).exp()).sum(1) - log_sigma.sum(1) - 0.5 * mu.shape[1]


def kl_borrowed(mu, log_sigma):
    return vae.kl_closed_form(mu, log_sigma)


def kl_via_ck(mu, log_sigma):
    return ck.vae.kl_closed_form(mu, log_sigma)


def helper_that_borrows(mu, log_sigma):
    return kl_borrowed(mu, log_sigma)


def imports_inside(mu, log_sigma):
    from coursekit.models.vae import kl_closed_form

    return kl_closed_form(mu, log_sigma)


def default_argument(mu, log_sigma, kl=vae.kl_closed_form):
    return kl(mu, log_sigma)


CFG = ck.setup(seed=0, verbose=False)


def uses_cfg_and_a_comment(mu, log_sigma):
    # not ck.vae.kl_closed_form: my own
    return kl_own(mu.to(CFG.device), log_sigma)


def test_own_code_accepts_torch_only_and_rejects_coursekit_in_any_form():
    own_code(kl_own)
    own_code(lambda x: F.softplus(x).mean())
    own_code(uses_cfg_and_a_comment)  # objects like cfg are fine, comments are not code
    for fn in (kl_borrowed, kl_via_ck, helper_that_borrows, imports_inside, default_argument):
        with pytest.raises(GradingError, match="coursekit"):
            own_code(fn)
    with pytest.raises(GradingError, match="function"):
        own_code(3)


def test_assert_close_names_the_slip_and_checks_shape_and_nan():
    assert_close(torch.tensor([1.0, 2.0]), [1.0, 2.0], "x")
    with pytest.raises(GradingError, match="x is not right: sum over pixels"):
        assert_close(torch.tensor([1.0, 2.5]), [1.0, 2.0], "x", hint="sum over pixels")
    with pytest.raises(GradingError, match="shape"):
        assert_close(torch.ones(3), torch.ones(2), "x")
    with pytest.raises(GradingError, match="NaN"):
        assert_close(float("nan"), 1.0, "x")


def test_assert_band_reports_the_band():
    assert_band(15.0, "error", upper=16.8)
    assert_band(-119, "elbo", lower=-122)
    with pytest.raises(GradingError, match="≤ 16.8"):
        assert_band(17.0, "error", upper=16.8)
    with pytest.raises(GradingError, match="≥ 3"):
        assert_band(2, "modes", lower=3)
    with pytest.raises(GradingError):
        assert_band(float("nan"), "elbo", lower=-122)


def test_energy_distance_is_small_for_the_same_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 2, generator=g), torch.randn(500, 2, generator=g)
    same, shifted = energy_distance(a, b), energy_distance(a, b + 1.0)
    assert abs(same) < 0.02 and shifted > 0.5
