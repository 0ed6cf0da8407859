"""Pictures without a UI: Plotly figures, the replay figure, the class gallery, decoder weights
for the browser, and notebook helpers."""
