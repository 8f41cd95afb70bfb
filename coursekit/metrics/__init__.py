"""One yardstick for every generative model of the course: an MNIST classifier and its features.

* `classifier`: the network (`MNISTClassifier`), `features(images)` (its penultimate layer,
  (N, 128)), `predict`, `accuracy`.
* `frechet`: `frechet_distance(a, b)` between Gaussians fitted to the features of two image
  sets (torchmetrics' ``FrechetInceptionDistance`` with our network as feature extractor), and
  our own float64 formula `gaussian_frechet_distance` that validates it.
* `precision_recall`: k-NN manifold precision (fidelity) and recall (diversity),
  Kynkäänniemi et al. (2019).
* `samples`: `class_histogram`, `class_coverage`, `kl_to_uniform` (does the model produce every
  digit?), `reference()` (all of the above for real train vs real held-out images, so a model's
  number reads as a multiple of "real vs real") and `evaluate_samples(samples)`.

Every image argument is a float tensor (N, 1, 28, 28) with values in [0, 1]. The comparison
table of notebook 05 is `coursekit.labs.compare`; the classifier's training recipe is
`coursekit.recipes.classifier`.
"""
from .classifier import (
    N_CLASSES,
    N_FEATURES,
    MNISTClassifier,
    accuracy,
    classifier,
    features,
    predict,
    yardstick,
)
from .frechet import (
    FeatureExtractor,
    frechet_distance,
    frechet_distance_features,
    gaussian_frechet_distance,
)
from .precision_recall import precision_recall, precision_recall_features
from .samples import (
    N_REFERENCE,
    REFERENCE_SEED,
    class_coverage,
    class_histogram,
    compute_reference,
    evaluate_samples,
    heldout_images,
    kl_to_uniform,
    reference,
    train_subset,
)

__all__ = ["N_CLASSES", "N_FEATURES", "MNISTClassifier", "accuracy", "classifier", "features",
           "predict", "yardstick", "FeatureExtractor", "frechet_distance",
           "frechet_distance_features", "gaussian_frechet_distance", "precision_recall",
           "precision_recall_features", "N_REFERENCE", "REFERENCE_SEED", "class_coverage",
           "class_histogram", "compute_reference", "evaluate_samples", "heldout_images",
           "kl_to_uniform", "reference", "train_subset"]
