"""coursekit.recipes.classifier: the yardstick's training recipe."""
import math

import pytest
import torch

from coursekit import metrics as M
from coursekit.core import checkpoints as C
from coursekit.recipes import classifier as R


def test_classifier_recipe_is_registered_with_a_typed_config():
    recipe = C.recipes()["classifier"]
    assert recipe.config == R.ClassifierConfig()
    assert recipe.build(recipe.config).num_features == M.N_FEATURES
    tiny = recipe.settings(tiny=True)
    assert (tiny.n_train, tiny.steps, len(tiny.phases)) == (1024, 40, 1)
    assert tiny.width == recipe.config.width  # same network: only the training is shorter


def test_random_shift_is_the_identity_at_zero_and_reproducible():
    x = M.heldout_images(8)
    same = R.random_shift(x, max_shift=0.0, max_degrees=0.0, max_scale=0.0)
    assert torch.allclose(same, x, atol=1e-5)
    a = R.random_shift(x, torch.Generator().manual_seed(0))
    b = R.random_shift(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape and not torch.allclose(a, x)


@pytest.mark.slow
def test_tiny_fit_gives_the_card_metrics_and_the_reference(cfg):
    made = C.fit_recipe("classifier", cfg, tiny=True, command="")
    metrics, ref = made.card["metrics"], made.extras["reference"]
    assert metrics["heldout_accuracy"] > 0.5  # 40 steps already learn most digits
    assert metrics["real_vs_real_fd"] == ref["fd"] and ref["n"] == M.N_REFERENCE
    assert math.isfinite(metrics["real_vs_real_kl_uniform"])
    assert not made.model.training
