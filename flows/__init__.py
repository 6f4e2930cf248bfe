"""Prefect orchestration of the wiretrace pipeline: thin tasks over shards, the flow, and the CLI."""
