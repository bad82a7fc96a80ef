"""HTTP handlers: thin layers that parse, call the domain modules, and shape answers."""
