"""From request bytes to checked records: JSON parsing, schema validation, batch rules, worker processes, files."""
