"""Delivery throughput and latency: Herald on devhost, against a plain loop doing the same work.

    .venv/bin/python -m bench.delivery [--duration 20] [--rounds 3] [--fanouts 1,10]
                                       [--concurrency 16] [--rate 5000] [--quick]

For fan-out 1 and fan-out 10, loopback receivers (aiohttp, in this process) time each webhook's
arrival, and runs of the same length push messages through them:

- **herald**: Herald served by devhost against the emulators (its own Cosmos database, a signing key
  whose JWKS it trusts, loopback endpoints allowed), fed through the public API with aiohttp and a
  minted token, an `idempotency-key` on every create as the Svix SDKs send (aiohttp, not httpx:
  httpx's connection pool cost the load generator about 1.7 ms of CPU per request, enough to make
  the bench's own process, not Herald, the bottleneck on two cores);
- **ceiling**: a plain async loop, in a process of its own as Herald is, that creates one document
  per message on the same Cosmos server with the same SDK (azure.cosmos.aio) and POSTs it to each
  endpoint (aiohttp): the least work a durable delivery can do here;
- **ceiling + queue** (once per fan-out): the ceiling with a Storage queue (Azurite) between the
  create and the POSTs, drained by consumers in batches of 32 as the Functions host drains a queue
  trigger: the floor of a queue-triggered dispatch, the design Herald measured against and did not
  choose;
- **raw POST** (once per fan-out): the same loop without Cosmos, for reference.

Herald's and the ceiling's runs are interleaved (`--rounds`, 3 by default: herald, ceiling, herald,
ceiling, ...), so that each ratio compares two runs that met the same machine, and the median ratio
is reported. The reference runs come after every fan-out's rounds, with Herald's host stopped: a
queue run leaves Azurite busy for minutes (each queue run waits, up to 3 minutes, for it to idle).

Every run keeps `--concurrency` messages in flight (a worker sends the next message once every
endpoint has received its last one) and starts at most `--rate` messages a second. Latency is from
just before the create to the receipt, on the machine's monotonic clock. After a warm-up the run
measures for `--duration` seconds. Each run also reports the CPU time per delivery of its sending
process and of the Cosmos server (found by its listening port).

Herald's own metrics (`GET /api/v1/metrics`, read before and after) give its Cosmos and Storage
operations per delivered message (herald.store.operations: Storage is what the Durable client
calls cost the task hub); devhost's Durable API counts the orchestrations the run started. Prints
a table, writes bench/results/delivery.json and bench/results/delivery.png, and drops the Cosmos
databases it made.

The harness (`harness.py`: Herald's host and client, the receivers, the load loop, the ceiling's
process, CPU and latency) serves the parts: the ceiling's loop (`ceiling.py`, run in a process of
its own), the scenarios (`scenarios.py`: rounds and reference runs per fan-out) and the output
(`report.py`: table, goals, plot, JSON); `__main__.py` runs them in that order.
"""
