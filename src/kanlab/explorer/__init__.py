"""The interactive explorer (issue 23): a trained KAN under edit, in Python and in the browser.

:class:`Workbench` holds the model, its data and an undo/redo history of model states with their
metrics; :func:`launch` serves it as a local web page (:mod:`.app`, needs ``kanlab[explorer]``).
"""
from .checks import MAX_RETRAIN_STEPS, WorkbenchBusy, WorkbenchInputError
from .workbench import State, Workbench

__all__ = ["Workbench", "State", "WorkbenchInputError", "WorkbenchBusy", "MAX_RETRAIN_STEPS", "launch"]


def launch(workbench, **kwargs):
    """Serve ``workbench`` on a local web page; see :func:`kanlab.explorer.server.launch`."""
    from .server import launch as _launch

    return _launch(workbench, **kwargs)
