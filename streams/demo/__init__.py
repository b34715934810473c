"""The demo: sample data, a worker child process and a live summary."""
