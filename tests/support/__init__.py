"""What tests, benchmarks and scripts share, written once (as the FastAPI template's tests/utils):

- settings.py: the app settings of a local Herald on the emulators; hosts.py: Herald on devhost
- tokens.py: an issuer (key, JWKS) and its tokens, also behind `make token`
- receivers.py: loopback webhook receivers and tarpits; proxy.py: a TCP proxy that cuts connections
- emulators.py: private Cosmos DB and Azurite processes; faults.py: the fault runs' ledger and check
- histories.py: Durable replay histories from named steps; waiting.py; stats.py: percentiles
- sdk.py: the status of an error the svix SDK raises
- offline.py: the check behind `make test-unit`'s `offline` mark (a fixture the conftests take in)

Only offline.py imports pytest: `bench/` and `scripts/` import the rest as plain code, and the
conftests' fixtures wrap it.
"""
