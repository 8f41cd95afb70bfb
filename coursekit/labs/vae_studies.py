"""Heavy studies of the vae notebook, registered in `coursekit.core.results.STUDIES`."""
