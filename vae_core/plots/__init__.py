"""Plotly figures as pure functions: results in, go.Figure out. No streamlit here.

style (colours, layout, hover), ranges (where curves are evaluated), densities (mixture
components, the aggregate posterior), truth (the ground truth alone), run (a finished run),
compare (the Compare page), live (the live view).
"""
