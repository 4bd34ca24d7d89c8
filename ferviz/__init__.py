"""ferviz: facial expression recognition with a DCNN-BiLSTM dual-attention model, explained.

The importable core. It never imports Streamlit; ``ferviz.ui`` is the only bridge to the app.
"""

__version__ = "0.1.0"
