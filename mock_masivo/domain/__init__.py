"""Rules with no I/O: record kinds, processing outcomes, metrics, the clock, credentials, limits, fault rules."""
