"""The C modules under AddressSanitizer and UndefinedBehaviorSanitizer.

connectors/_json.c and connectors/_speedups.c read documents Regie does not control (a
state or a plan from a pull request's CI job). Their own tests compare them with the Python
and orjson references; here those tests run again in a child Python whose copies of the two
modules were compiled with ``-fsanitize=address,undefined`` and with every allocation going
through ``malloc`` (``PYTHONMALLOC=malloc``), so that a read or write out of bounds, a use
after free or undefined arithmetic fails the run instead of passing by luck.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("_json", "_speedups")
SUITES = ["tests/test_json_doc.py", "tests/test_speedups.py", "tests/test_terraform_state.py"]

# The child loads the sanitized builds under the modules' own names before anything imports
# regie.connectors, then runs the suites; they must find those builds, not the installed ones.
DRIVER = """
import importlib.machinery, importlib.util, sys
for name, path in zip(sys.argv[1].split(","), sys.argv[2].split(",")):
    full = "regie.connectors." + name
    loader = importlib.machinery.ExtensionFileLoader(full, path)
    spec = importlib.util.spec_from_file_location(full, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[full] = module
import regie.connectors
for name in sys.argv[1].split(","):
    setattr(regie.connectors, name, sys.modules["regie.connectors." + name])
import regie.connectors.base, regie.connectors.json_doc
assert regie.connectors.json_doc.NATIVE is regie.connectors._json.loads
assert regie.connectors._json.__file__ == sys.argv[2].split(",")[0], regie.connectors._json.__file__
assert regie.connectors.base._native is regie.connectors._speedups.redact
import pytest
# -s: pytest's capture would hold the sanitizer's report when it ends the process
sys.exit(pytest.main(["-q", "-s", "-p", "no:cacheprovider", *sys.argv[3:]]))
"""


def _runtime(name: str) -> str | None:
    """The sanitizer's runtime library as gcc ships it, or None."""
    cc = shutil.which("gcc")
    if cc is None:
        return None
    found = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return found if os.path.isabs(found) and os.path.exists(found) else None


def test_the_c_modules_pass_their_tests_under_sanitizers(tmp_path: Path) -> None:
    asan, ubsan = _runtime("libasan.so"), _runtime("libubsan.so")
    if asan is None or ubsan is None:
        pytest.skip("gcc with libasan and libubsan is needed to build the sanitized modules")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    built = []
    for name in MODULES:
        out = tmp_path / f"{name}{suffix}"
        compiled = subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer",
             "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
             f"-I{include}", str(ROOT / "connectors" / f"{name}.c"), "-o", str(out)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert compiled.returncode == 0, compiled.stderr
        built.append(str(out))
    env = {
        **os.environ,
        "LD_PRELOAD": f"{asan} {ubsan}",
        "ASAN_OPTIONS": "detect_leaks=0",  # CPython keeps objects alive at exit
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "PYTHONMALLOC": "malloc",  # pymalloc's arenas are invisible to ASan
    }
    child = subprocess.run(
        [sys.executable, "-c", DRIVER, ",".join(MODULES), ",".join(built), *SUITES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # a sanitizer's report: the summary at the end, the first frames at the start
    report = child.stderr[-3000:] if "SUMMARY" in child.stderr else child.stderr[:3000]
    assert child.returncode == 0, report + child.stdout[-3000:]
    assert "Sanitizer" not in child.stderr and "runtime error" not in child.stderr, report
    assert " passed" in child.stdout, child.stdout[-3000:]
