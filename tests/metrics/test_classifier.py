"""coursekit.metrics.classifier: the yardstick network, its features and its input checks."""
import pytest
import torch

import coursekit as ck
from coursekit import metrics as M
from coursekit.core import checkpoints as C
from coursekit.recipes.classifier import ClassifierConfig, build

CHECKPOINT = C.checkpoint_path("classifier")


@pytest.fixture(scope="module")
def digits():
    return ck.load_mnist("heldout").x[:200]


def test_features_are_the_penultimate_layer(digits):
    f = M.features(digits[:10])
    assert f.shape == (10, M.N_FEATURES) and f.dtype == torch.float32
    logits = M.classifier().head(f)
    assert torch.allclose(logits, M.classifier()(digits[:10]), atol=1e-5)
    assert torch.equal(M.predict(digits[:10]), logits.argmax(1))


def test_features_accept_the_other_image_layouts(digits):
    x = digits[:4]
    assert torch.equal(M.features(x.view(4, 784)), M.features(x))
    assert torch.equal(M.features(x.view(4, 28, 28)), M.features(x))


@pytest.mark.parametrize("bad, match", [
    (torch.rand(5, 3, 28, 28), r"shape \(5, 3, 28, 28\)"),
    (torch.rand(5, 1, 28, 28) * 2 - 1, r"\[0, 1\].*from_pm1"),
    (torch.rand(5, 1, 28, 28) * 255, r"\[0, 1\].*255"),
    (torch.full((5, 1, 28, 28), float("nan")), "NaN"),
    (torch.rand(1, 1, 28, 28), "at least 2 images"),
])
def test_wrong_shape_or_range_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        M.features(bad)


def test_accuracy_restores_the_models_mode(digits):
    net = build(ClassifierConfig())
    net.train()
    M.accuracy(net, digits[:20], torch.zeros(20, dtype=torch.long))
    assert net.training


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="no committed classifier checkpoint")
def test_committed_checkpoint_loads_unchanged():
    raw = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)["state_dict"]
    loaded = ck.pretrained("classifier", verbose=False)
    assert isinstance(loaded.model, M.MNISTClassifier) and not loaded.model.training
    state = loaded.model.state_dict()
    assert state.keys() == raw.keys()
    assert all(torch.equal(state[k], raw[k]) for k in raw)
    assert loaded.extras["reference"]["n"] == M.N_REFERENCE


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="no committed classifier checkpoint")
def test_pretrained_classifier_reaches_98_5_percent_on_heldout():
    held = ck.load_mnist("heldout")
    assert M.accuracy(M.classifier(), held.x, held.y) >= 0.985
