"""The paper's settings in one place (a minimal version: the science helper owns this module)."""

PAPER_Y_VALUES = (1.0, 0.2, -3.0)  # the y of the paper's posterior panels
# The app's default list: the paper's, plus 0.05, a y inside the data where p(z|y) has four modes.
SHOWN_Y_VALUES = (*PAPER_Y_VALUES[:2], 0.05, *PAPER_Y_VALUES[2:])
