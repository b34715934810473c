"""ledgerstream: project-management events in, balanced ledger-posting commands out."""
