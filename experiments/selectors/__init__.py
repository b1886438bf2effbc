"""Reads. Every query for tracking data starts from a workspace passed in by the caller."""
