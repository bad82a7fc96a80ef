"""Where accepted records live: the journal on disk, the store's rows and indexes, the data directory."""
