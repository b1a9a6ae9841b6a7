"""Developer tooling: the local runner behind `make run`."""
