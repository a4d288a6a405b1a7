"""Public import path of the formula tools (``kanlab.formula``); they live in
:mod:`kanlab.symbolic.formula`."""
from .symbolic.formula import *  # noqa: F401,F403
from .symbolic.formula import __all__  # noqa: F401
