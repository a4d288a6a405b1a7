"""Data sets: synthetic functions, the paper's toy, special and Feynman functions; the AI Feynman
database (120 laws with ranges and units) and SRBench's sampling of it."""
from .ai_feynman import AI_FEYNMAN, SRBENCH_DROPPED, Law, Variable, srbench_data
from .feynman import FEYNMAN, feynman_equation
from .special import SPECIAL_FUNCTIONS, special_function
from .stream import stream_table
from .synthetic import create_dataset
from .tabular import from_csv, read_csv
from .toy import TOY_FUNCTIONS, toy_function

__all__ = ["create_dataset", "TOY_FUNCTIONS", "toy_function", "SPECIAL_FUNCTIONS", "special_function",
           "FEYNMAN", "feynman_equation", "from_csv", "read_csv", "stream_table",
           "AI_FEYNMAN", "SRBENCH_DROPPED", "Law", "Variable", "srbench_data"]
