"""Shared checks for the test suite: properties every bijector, flow, export and data pipeline must have."""
