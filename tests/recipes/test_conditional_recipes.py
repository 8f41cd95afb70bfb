"""coursekit.recipes.conditional: the "cldm", "flow" and "cvae" recipes (tiny runs) and the
scoring of conditional samples."""
import pytest
import torch

from coursekit.core.checkpoints import fit_recipe, get_recipe, load_pretrained_file, save_pretrained
from coursekit.core.config import setup
from coursekit.models.conditional import balanced_labels
from coursekit.recipes import conditional as R


@pytest.mark.parametrize("name", ["cldm", "flow", "cvae"])
def test_tiny_recipe_trains_saves_and_reloads(name, tmp_path):
    cfg = setup(seed=0, verbose=False)
    made = fit_recipe(name, cfg, True, f"python -m coursekit pretrain {name} --tiny")
    assert made.card["train_cpu_seconds"] > 0
    assert made.card["metrics"]["train_loop_cpu_seconds"] > 0
    path = save_pretrained(name, made.model, made.card, made.extras, tmp_path)
    recipe = get_recipe(name)
    again = load_pretrained_file(name, recipe.build(recipe.config), path)
    kw = {"steps": 2} if name != "cvae" else {}
    a = made.model.sample(10, torch.Generator().manual_seed(1), **kw)
    b = again.model.sample(10, torch.Generator().manual_seed(1), **kw)
    assert a.shape == (10, 1, 28, 28) and torch.equal(a, b)


def test_same_seed_same_weights():
    cfg = setup(seed=0, verbose=False)
    a = fit_recipe("cldm", cfg, True, "x").model.state_dict()
    b = fit_recipe("cldm", cfg, True, "x").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_class_accuracy_reads_real_digits_and_rejects_bad_labels():
    from coursekit.core.data import load_mnist
    held = load_mnist("heldout")
    acc = R.class_accuracy(held.x[:200], held.y[:200])
    assert acc > 0.95
    assert R.class_accuracy(held.x[:200], (held.y[:200] + 1) % 10) < 0.05
    with pytest.raises(ValueError, match="one label per sample"):
        R.class_accuracy(held.x[:10], balanced_labels(9))


def test_card_key_names_seed_and_guidance():
    assert R._key(0.5, 1) == "w0.5_" and R._key(2.0, 3) == "seed3_w2_"
