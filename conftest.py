"""Project-wide pytest settings that reach the notebooks checked by nbval.

nbval waits only 5 s (hard-coded, no command-line option) for each output message of a cell
after the cell has finished. On a loaded 2-core machine the kernel can take longer to flush a
cell's messages (notebook 03 has nine tqdm progress widgets in one cell), which failed a
`make test` with "Timeout of 5 seconds exceeded waiting for output". The cell-execution limit
stays `--nbval-cell-timeout` (Makefile); this only stops a slow *flush* from failing a cell.
"""
from __future__ import annotations

NBVAL_OUTPUT_TIMEOUT_S = 120


def pytest_collection_modifyitems(session, config, items) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's IPyNbCell
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
