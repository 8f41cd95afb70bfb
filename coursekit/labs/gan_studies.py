"""Heavy studies of the gan notebook, registered in `coursekit.core.results.STUDIES`."""
