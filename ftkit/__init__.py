"""ftkit: a fine-tuning pipeline orchestrator for OpenAI-compatible APIs."""

__version__ = "0.1.0"
