"""The books: a reference accounting sink that books ``acct.ledger-commands`` into SQL.

``ledgerstream books run`` consumes the posting commands and books each into a SQL
ledger (SQLite by default, PostgreSQL with ``LEDGERSTREAM_BOOKS_URL``), through
SQLAlchemy Core so one code path serves both; every outcome is answered on
``acct.ledger-acks``. Modules, one concept each:

* ``tables``: the ledger's tables and the engine (``open_books``);
* ``booking``: the ledger semantics, one batch in one transaction (``book_batch``);
* ``periods``: closing and reopening periods;
* ``chart``: the chart of accounts (an entity's own codes);
* ``sink``: the Kafka loop (consume, book, answer, then commit offsets);
* ``reports``: trial balance, project profitability, AR aging and DSO.

docs/books.md explains the semantics, the acks and the reports.
"""
