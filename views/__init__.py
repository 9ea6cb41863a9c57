"""Thin Streamlit pages; they call surveys/, analysis/ and reports/."""
