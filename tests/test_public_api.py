"""Every module's ``__all__`` names things that exist, and the package's entry points import."""

import importlib
import pkgutil

import pytest

import letterpress

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(letterpress.__path__, "letterpress.")
    if ".migrations" not in m.name
)


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        pytest.skip(f"{name} has no __all__")
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing objects: {missing}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"


def test_package_entry_points():
    assert callable(letterpress.load_issue) and callable(letterpress.render_issue)
    assert issubclass(letterpress.LetterpressError, Exception)
    assert letterpress.__version__


def test_click_only_in_cli():
    """STYLE: the CLI is the only module that imports click."""
    for name in MODULES:
        if name.startswith("letterpress.cli"):
            continue
        module = importlib.import_module(name)
        assert "click" not in vars(module), f"{name} imports click"
