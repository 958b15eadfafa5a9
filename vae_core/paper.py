"""The paper's settings (minimal here: the plots branch needs only the y values)."""

PAPER_Y_VALUES = (1.0, 0.2, -3.0)  # the paper's posterior panels
# The app's default list: the paper's, and 0.05 inside the data (where p(z|y) has four modes).
SHOWN_Y_VALUES = (*PAPER_Y_VALUES[:2], 0.05, PAPER_Y_VALUES[2])
