"""devhost: the Functions host's side of an azure-functions Python v2 app, run locally.

The worker's side (indexing, binding conversion, invocation) is Microsoft's worker runtime,
``azure-functions-runtime``, driven in process with the host's protobuf messages (``worker``);
devhost adds what the host does: its start-up rules, the HTTP server, queue polling, timers and the
Durable engine. An app can so run and be tested where Azure Functions Core Tools cannot be
installed. It knows nothing about any particular app.
"""
