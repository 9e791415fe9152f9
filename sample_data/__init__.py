"""Synthetic sample data in the outcomes data contract (version 1).

`python -m sample_data.generate` writes the seven contract files; see README.md in this folder
for what the sample contains, which published figures it reproduces and which it cannot.
"""
