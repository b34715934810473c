"""Thin Faust agents: decode → domain rule → encode and send, with metrics."""
