"""Notebook 03's exercise check ("Could Disc be very good when Gen is good?"): the reference
optimal discriminator passes, plausible wrong ones are rejected with a message that names the
slip, and an untouched exercise reports "not attempted yet"."""
import pytest
import torch

from coursekit.labs import exercises as ex
from coursekit.labs import gan_exercises as GE
from coursekit.models import gan


def reference(p_data, p_g):  # the notebook's solution cell
    return p_data / (p_data + p_g)


# (id, wrong D*(p_data, p_g), a phrase the message must contain)
WRONG = [
    ("probability_of_fake_swapped", lambda a, b: b / (a + b), "probability that x is FAKE"),
    ("likelihood_ratio", lambda a, b: a / b, "likelihood ratio"),
    ("log_ratio_logit_not_probability", lambda a, b: torch.log(a / b), "optimal logit"),
    ("constant_one_half", lambda a, b: torch.full_like(a, 0.5), "only where p_g = p_data"),
    ("p_data_alone", lambda a, b: a, "a density is not a probability"),
    ("one_minus_p_g", lambda a, b: 1 - b, "1 − p_g ignores p_data"),
    ("extra_factor_one_half", lambda a, b: 0.5 * a / (a + b), "factor 1/2"),
    ("extra_factor_two", lambda a, b: 2 * a / (a + b), "factor 2"),
    ("sigmoid_of_difference", lambda a, b: torch.sigmoid(a - b), "σ of the difference"),
    ("normalised_over_all_points", lambda a, b: a / (a + b).sum(), "point by point"),
    ("mean_not_elementwise", lambda a, b: (a / (a + b)).mean(), "element-wise"),
    ("nan_where_a_density_is_zero", lambda a, b: torch.exp(torch.log(a) - torch.log(a + b))
     * torch.where(b == 0, torch.nan, 1.0), "not finite"),
    ("negative_values", lambda a, b: a / (a + b) - 0.3, "outside [0, 1]"),
    ("unknown_slip", lambda a, b: a ** 2 / (a ** 2 + b ** 2), "does not minimise"),
]


def test_optimal_discriminator_reference_passes():
    ok, msg = GE.check_optimal_discriminator(GE.optimal_discriminator_values(reference))
    assert ok, msg
    assert "within rtol" in msg


def test_library_d_star_agrees_with_the_reference():
    assert GE.check_optimal_discriminator(
        GE.optimal_discriminator_values(gan.optimal_discriminator))[0]


def test_probes_include_a_perfect_gen_disjoint_supports_and_densities_above_one():
    p_data, p_g = GE.probe_densities()
    assert (p_data == p_g).any()                                  # Gen perfect at some x
    assert ((p_g == 0) & (p_data > 0)).any() and ((p_data == 0) & (p_g > 0)).any()
    assert (p_data > 1).any() and (p_g > 1).any()                 # a density can exceed 1
    assert not ((p_data == 0) & (p_g == 0)).any()                 # D* is defined everywhere


@pytest.mark.parametrize("wrong, phrase", [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_optimal_discriminator_rejects_a_plausible_wrong_answer(wrong, phrase):
    ok, msg = GE.check_optimal_discriminator(GE.optimal_discriminator_values(wrong))
    assert not ok
    assert phrase in msg, msg


def test_in_place_edits_of_the_inputs_do_not_fool_the_check():
    def sneaky(p_data, p_g):
        p_g.zero_()                                               # "Gen is irrelevant"
        return p_data / (p_data + p_g)

    assert not GE.check_optimal_discriminator(GE.optimal_discriminator_values(sneaky))[0]


def test_optimal_discriminator_check_reports_todo_as_not_attempted(capsys):
    def optimal_discriminator(p_data, p_g):
        return ex.todo()

    assert ex.check("optimal discriminator D*(x)",
                    lambda: GE.optimal_discriminator_values(optimal_discriminator),
                    GE.check_optimal_discriminator) is None
    assert ex.NOT_ATTEMPTED in capsys.readouterr().out
