"""Prefect flows: thin orchestration over the ftkit library."""
