"""Using the mock from tests and scripts: a server in a thread, a client, the pytest plugin."""
