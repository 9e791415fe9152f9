"""The peer support outcomes dashboard (Streamlit).

Pages get every figure from `dashboard.data`, which caches the `data_access` reads; nothing
here writes SQL or reads a fact table.
"""
