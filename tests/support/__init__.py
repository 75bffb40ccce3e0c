"""What tests, benchmarks and scripts share, written once: the settings of a local Herald, token
minting, loopback receivers, private emulators, Durable replay histories and percentiles.

Nothing here imports pytest: `bench/` and `scripts/` import these modules as plain code, and
fixtures in the conftests wrap them.
"""
