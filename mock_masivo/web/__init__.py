"""HTTP: the route table, handlers, middleware, body limits, the one place errors become JSON."""
