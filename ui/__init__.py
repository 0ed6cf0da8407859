"""Streamlit glue shared by the dashboard's pages (vae_core holds all the model code)."""
