"""Plotly figure builders: each function takes core data and returns a ``plotly.graph_objects.Figure``."""
