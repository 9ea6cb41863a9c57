"""Tandem psychometrics and linkage analysis (no Streamlit)."""
