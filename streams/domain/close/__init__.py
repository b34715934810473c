"""Period close, pure: allocation of shared costs, intercompany eliminations, capex.

Each module turns the period's posted commands (and reference data) into new
balanced commands, deterministically: the same inputs give the same command ids,
so a re-run sends nothing new and a changed input reverses and re-posts only what
changed. Nothing here reads Kafka, files or the clock (``streams/ops/close.py`` does).
"""
