"""vae-mog-lab: the table of contents. Run with `streamlit run app.py`."""

import streamlit as st
import torch

from dashboard import url_state

# Training runs in the training service's worker processes (dashboard.service_client); the server
# itself only draws figures and metrics of tiny nets, where intra-op threads only add contention
# with the workers (oversubscribed, training was up to 60x slower), so it stays at one thread.
torch.set_num_threads(1)

st.set_page_config(page_title="VAE-MoG lab", page_icon=":material/science:", layout="wide")
url_state.keep_widget_state()

lecture_key = url_state.widget_key("app", url_state.LECTURE)
if lecture_key not in st.session_state:
    st.session_state[lecture_key] = url_state.lecture_mode_from_url()
st.sidebar.toggle(
    "Lecture mode",
    key=lecture_key,
    help="Large fonts and figure text, controls collapsed, presets one click away.",
)
if url_state.lecture_mode():
    st.markdown(
        "<style>html, body, [class*='st-'] p, li, label {font-size: 1.25rem !important;}</style>",
        unsafe_allow_html=True,
    )

page = st.navigation(
    [
        st.Page("views/overview.py", title="Overview", icon=":material/school:", default=True),
        st.Page("views/ground_truth.py", title="Ground truth", icon=":material/functions:"),
        st.Page("views/train.py", title="Train & explore", icon=":material/model_training:"),
        st.Page("views/compare.py", title="Compare (paper)", icon=":material/compare:"),
    ]
)
page.run()
