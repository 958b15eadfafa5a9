"""The Streamlit layer: everything that imports streamlit (the science is vae_core).

url_state: page settings in the URL; train_form: the Train page's controls ↔ TrainConfig;
service_client: this session's training requests; training_panel: Train, progress, outcome;
live_controls: Stop / Pause / Step / Resume; explore: probe, pin, the live view;
tour_box: the guided tour; charts: styling, the figure cache, charts and downloads.
"""
