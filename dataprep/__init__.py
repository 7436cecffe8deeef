"""dataprep: turn raw text into training data for LLM pretraining."""

__version__ = "0.1.0"
