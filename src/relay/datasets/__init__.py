"""Datasets: the first tenant resource, and the guide's example."""
