"""The outcomes database: schema, loader, summaries, queries, exports and command line.

Only this package talks to the database; it never imports Streamlit.
"""
