"""Data preparation: streaming reading, checks, fixes, splitting and token counting."""
