"""discover's settings as one validated, frozen object (kanlab.discovery.config)."""
import dataclasses
import inspect

import pytest

import kanlab
from kanlab.core.network import KANNetwork
from kanlab.discovery import pipeline
from kanlab.discovery.config import DiscoverConfig


def test_defaults_are_discovers_keyword_defaults():
    sig = inspect.signature(pipeline.discover)
    cfg = DiscoverConfig()
    for name in DiscoverConfig.names():
        default = sig.parameters[name].default
        if name == "model_cls":
            assert default is None and cfg.model_cls is KANNetwork
        else:
            assert getattr(cfg, name) == default, name
    assert set(DiscoverConfig.names()) == set(sig.parameters) - {"X", "y", "var_names"}


def test_config_is_frozen_and_normalised():
    cfg = DiscoverConfig(grids=[5, 10], lib=["x", "sin"], transforms=["log"])
    assert cfg.grids == (5, 10) and cfg.lib == ("x", "sin") and cfg.transforms == ("log",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 3
    other = cfg.replace(steps=7)
    assert other.steps == 7 and cfg.steps == 50 and other.grids == (5, 10)


@pytest.mark.parametrize("kwargs, match", [
    ({"transforms": ("sqrt",)}, "transforms"),
    ({"transforms": ()}, "transforms"),
    ({"grids": ()}, "grids"),
    ({"grids": (5, 0)}, "grid size"),
    ({"grids": 5}, "grids"),
    ({"steps": 0}, "steps"),
    ({"topk": 1.5}, "topk"),
    ({"test_size": 1.0}, "test_size"),
    ({"test_size": 0.0}, "test_size"),
    ({"snap_tol": -1}, "snap_tol"),
    ({"hidden": 0}, "hidden"),
    ({"seed": "0"}, "seed"),
])
def test_bad_settings_raise_once_with_the_settings_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiscoverConfig(**kwargs)
    with pytest.raises(ValueError, match=match):  # through the public function, before any work
        kanlab.discover([[0.0]] * 30, list(range(30)), **kwargs)
