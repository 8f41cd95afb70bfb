"""Heavy studies of the diffusion notebook, registered in `coursekit.core.results.STUDIES`."""
