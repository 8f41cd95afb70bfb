"""Core: what every section uses and that knows nothing of the models — the session (`setup`,
profiles), data, the one training loop, checkpoints and the recipe registry, small nn helpers."""
