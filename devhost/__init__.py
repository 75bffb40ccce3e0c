"""devhost: a small pure-Python local host for azure-functions Python v2 apps.

It enumerates the app exactly as the Python worker does (``app.get_functions()``) and serves the
triggers it knows, so an app can run and be tested where Azure Functions Core Tools cannot be
installed. It knows nothing about any particular app.
"""
