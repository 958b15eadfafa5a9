"""Overview: what the dashboard teaches, and a 60-second tour."""

import streamlit as st

from dashboard.url_state import LECTURE, lecture_mode
from vae_core.paper import MODEL_NAMES

# Keep ?lecture=1 in the URL (a copied link keeps lecture mode); other parameters stay as they are.
if lecture_mode():
    st.query_params[LECTURE] = "1"
else:
    st.query_params.pop(LECTURE, None)

st.title("VAEs with Gaussian and mixture priors and posteriors")
st.markdown(
    """
A **variational autoencoder** explains each observation y by a hidden cause z. It has three parts:

- a **prior** p(z): what z looks like before seeing y;
- a **decoder** f_φ(z): y | z ~ N(f_φ(z), σ²);
- an **encoder** (the approximate **posterior**) q(z | y): which z probably produced this y.

Training maximises the **ELBO**, E_q[log p(y | z) + log p(z) − log q(z | y)], a lower bound on
log p(y). Here the latent z is one-dimensional, so every density, likelihood and posterior can
also be computed **exactly** on a grid, and each learned model can be checked against the truth.

This lab reproduces and extends *Exploring VAEs performance over Mixture of Gaussians
Distributions* (Tello Ayala & Benac, 2023), itself built on Yacoby, Pan & Doshi-Velez (2020),
*Failure modes of variational autoencoders*.
"""
)

st.subheader("The four models")
st.markdown(
    "**MFG** stands for mean-field Gaussian (the encoder q(z|y) is a single Gaussian), **MoG** "
    "for mixture of Gaussians (a prior or an encoder made of M equal-weight Gaussians)."
)
rows = {
    ("gaussian", "gaussian"): "N(0, 1) prior, Gaussian q. The paper's baseline.",
    ("gaussian", "mog"): "N(0, 1) prior, q a mixture of M equal-weight Gaussians.",
    ("mog", "gaussian"): "learned mixture of M Gaussians as prior, Gaussian q.",
    ("mog", "mog"): "both mixtures. Not in the paper; here it comes for free.",
}
st.table({"model": [MODEL_NAMES[k] for k in rows], "what it is": list(rows.values())})

st.subheader("A 60-second tour")
st.markdown(
    """
1. **Ground truth**: move the noise slider and watch p(y) and the four-mode posterior p(z | y).
2. **Train & explore**: pick a prior and a posterior, press **Train**, watch the ELBO live, then
   compare the learned decoder, the generated data and q(z | y) with the exact answers.
3. **Compare (paper)**: the paper's three models side by side over several seeds, with each of
   its claims checked against the numbers, including where a claim does not hold.

Every figure has a camera icon (PNG from your browser) and a **Download PNG** button; the URL
keeps your settings, so copying it shares the exact view.
"""
)
st.page_link("views/ground_truth.py", label="Start with the ground truth", icon=":material/functions:")
st.page_link("views/train.py", label="Train a model", icon=":material/model_training:")
st.page_link("views/compare.py", label="Reproduce the paper", icon=":material/compare:")
