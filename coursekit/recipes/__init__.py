"""How each pretrained model is trained: one typed config (a dataclass with ``tiny()``) and one
``fit`` per model, registered with `coursekit.core.checkpoints.register`.

`python -m coursekit list` shows them; `python -m coursekit pretrain NAME` runs one.
Importing this package registers every recipe.
"""
from . import autoencoders, classifier, conditional, diffusion, gan, vae  # noqa: F401  (they register)
