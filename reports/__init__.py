"""Rendering of analysis results: plotly charts and the self-contained HTML report (no Streamlit)."""
