"""Pipeline stages; each registers itself through the `dataprep.stages` entry-point group."""
