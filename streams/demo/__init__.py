"""The demo: sample data (and the mixed month), a worker child process and a live summary."""
