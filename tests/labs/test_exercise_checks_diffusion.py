"""Notebook 04's exercise check (eq. 17, the variance recursion under eq. 16): the reference
solution passes, plausible wrong recursions are rejected with a message that names the slip."""
import pytest
import torch

from coursekit.labs import diffusion_exercises as DE
from coursekit.labs import exercises as ex


def reference(var_t, alpha_t, beta_t):  # the notebook's solution cell
    return alpha_t * var_t + beta_t


# (id, wrong var_next, a word the message must contain)
WRONG = [
    ("one_minus_alpha_for_beta", lambda v, a, b: a * v + (1 - a), "α_t + β_t ≠ 1"),
    ("eq15_alpha_squared", lambda v, a, b: a ** 2 * v + b, "eq. (15)"),
    ("sqrt_alpha_not_squared", lambda v, a, b: a.sqrt() * v + b, "c² Var(x)"),
    ("beta_squared", lambda v, a, b: a * v + b ** 2, "not β_t²"),
    ("sqrt_beta", lambda v, a, b: a * v + b.sqrt(), "not √β_t"),
    ("noise_term_missing", lambda v, a, b: a * v, "independent"),
    ("noise_scaled_by_var", lambda v, a, b: a * v + b * v, "variance 1"),
    ("cross_term", lambda v, a, b: a * v + b + 2 * (a * b).sqrt() * v, "no cross term"),
    ("returns_standard_deviation", lambda v, a, b: (a * v + b).sqrt(), "standard deviation"),
    ("alpha_beta_swapped", lambda v, a, b: b * v + a, "which term"),
    ("unknown_slip", lambda v, a, b: 0.5 * v + b, "Var(aX + bZ)"),
    ("scalar_not_elementwise", lambda v, a, b: (a * v + b).mean(), "element-wise"),
]


def test_eq17_recursion_reference_passes_and_probes_alpha_plus_beta_not_one():
    ok, msg = DE.check_var_next(DE.var_next_values(reference))
    assert ok, msg
    assert "α + β ≠ 1" in msg
    assert any(abs(a + b - 1) > 1e-6 for _, a, b in DE.VAR_NEXT_CASES)
    assert DE.check_var_next(DE.var_next_values(DE.var_next_reference))[0]


@pytest.mark.parametrize("wrong, word", [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_eq17_recursion_rejects_a_plausible_wrong_answer(wrong, word):
    ok, msg = DE.check_var_next(DE.var_next_values(wrong))
    assert not ok
    assert word in msg, msg


def test_one_minus_alpha_agrees_on_the_lectures_schedules_but_is_rejected():
    """The old check (α = 1 − β only) could not tell this answer from the right one."""
    wrong = WRONG[0][1]
    for var_t, a, b in DE.VAR_NEXT_CASES[:2]:  # the α + β = 1 probe points
        args = [torch.tensor(x, dtype=torch.float64) for x in (var_t, a, b)]
        assert torch.allclose(wrong(*args), reference(*args))
    assert not DE.check_var_next(DE.var_next_values(wrong))[0]


def test_eq17_check_reports_todo_as_not_attempted(capsys):
    def var_next(var_t, alpha_t, beta_t):
        return ex.todo()

    assert ex.check("eq. (17)", lambda: DE.var_next_values(var_next), DE.check_var_next) is None
    assert ex.NOT_ATTEMPTED in capsys.readouterr().out
