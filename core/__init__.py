"""Blitz Lab's engine: data, models, training, runs and evaluation. Never imports streamlit."""
