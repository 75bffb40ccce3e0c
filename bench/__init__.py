"""Benchmarks: each a script that prints a table and writes JSON under bench/results/ (output.py
writes it, and the plots, for all of them)."""
