"""Figures and widgets: `plot` (grids, curves, scatter, bars), `widgets` (explorers with a
static fallback)."""
