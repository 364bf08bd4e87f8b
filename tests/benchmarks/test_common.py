"""benchmarks/common.py: the machine description every benchmark result carries."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the scripts import their helpers as ``common``

import common


def test_the_machine_record_names_the_cpu_s_vector_extensions() -> None:
    machine = common.machine_info()
    extensions = machine["vector_extensions"]
    if extensions is None:  # no /proc/cpuinfo: nothing to name
        assert common.machine_line(machine).startswith(f"Machine: {machine['cpu']}, ")
        return
    assert set(extensions) <= set(common.VECTOR_EXTENSIONS)
    assert extensions == [name for name in common.VECTOR_EXTENSIONS if name in extensions]  # a fixed order
    line = common.machine_line(machine)
    assert line.startswith(f"Machine: {machine['cpu']} (")
    assert all(name in line for name in extensions)


def test_a_result_written_before_extensions_were_recorded_still_renders() -> None:
    machine = {k: v for k, v in common.machine_info().items() if k != "vector_extensions"}
    line = common.machine_line(machine)
    assert line.startswith(f"Machine: {machine['cpu']}, ")
    assert common.machine_line({**machine, "vector_extensions": []}).startswith(f"Machine: {machine['cpu']} (no AVX2)")
