"""Notebook support that is not part of the lecture's maths: exercise checks and the experiments
and figures that only one notebook uses (the ring study, the vanishing-gradient sweep, the
model comparison of notebook 05, …)."""
