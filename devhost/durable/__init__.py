"""Durable Functions for devhost: orchestrations, activities and the durable client, over SQLite.

Implements the host side of the protocol between the Durable extension and the Python SDK
(``azure-functions-durable``), so unmodified orchestrator, activity and client code runs locally.
Modules: ``config`` (options), ``history`` (history events), ``orchestrator`` (context, replies,
action numbering), ``store`` (SQLite), ``engine`` (dispatch loops), ``client_api`` (HTTP API),
``binding`` (the client binding value), ``triggers`` (the handlers devhost.host registers).
"""

from devhost.durable.triggers import DurableFunctions

__all__ = ["DurableFunctions"]
