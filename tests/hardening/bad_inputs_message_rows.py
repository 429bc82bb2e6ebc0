"""Rows of the bad-input table: message cases of issue 15 (see test_bad_inputs.py for the contract)."""
import os

from bad_inputs_rows import *  # noqa: F401,F403 (Case, makers, convert/segment helpers, OK, W, H, ...)
from bad_inputs_everything_rows import everything, everything_input, everything_model, FAST, ALL  # noqa: F401

MESSAGE_CASES = [
]
