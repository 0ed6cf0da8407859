"""Runs on disk: every file read as possibly hostile (validate), saved runs and their
training snapshots, written atomically."""
