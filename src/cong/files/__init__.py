"""Uploaded files: storage under generated ids, per-user quota, extraction."""
