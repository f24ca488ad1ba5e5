"""The per-session charging dashboard: a PostgreSQL serving store fed from the marts, and its app.

Modules: ``marts`` (the only reader of the DuckDB marts), ``cluster`` (a local PostgreSQL server),
``store`` (the serving schema and its roles), ``publish`` (marts to PostgreSQL), ``tokens`` (sign-in
tokens), ``db`` (the app's queries under row-level security), ``app`` (the FastAPI app), ``serve``
(``make serve``) and ``bench`` (``make bench-serve``).
"""
