"""Modules the Durable SDK's test suite imports that this project does not install.

This folder goes on the import path of the subprocesses that run the SDK's tests (never of
Herald's own test process), so ``jsonschema`` here is a top-level module there.
"""
