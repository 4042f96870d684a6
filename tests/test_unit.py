"""Runs each C unit test (tests/unit, berth-unit) as one pytest test."""
import subprocess

import pytest

from conftest import UNIT


def _names():
    p = subprocess.run([UNIT, "--list"], capture_output=True, text=True, check=True)
    return [n for n in p.stdout.split() if n]


@pytest.mark.parametrize("name", _names())
def test_unit(name):
    p = subprocess.run([UNIT, name], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
