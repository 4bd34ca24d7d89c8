"""The only bridge between the ferviz core and Streamlit: cached loaders, widgets, session keys.

Pages import from here and from the core; the core never imports Streamlit.
"""
