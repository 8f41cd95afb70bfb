"""Heavy studies of the compare notebook, registered in `coursekit.core.results.STUDIES`."""
