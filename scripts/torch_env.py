"""Finds a Python that has PyTorch, for the scripts that compare the engine with it.

Order: an explicit interpreter; a private venv (created from the CPU wheel this machine kind
carries in /opt/wheels when it is missing); this interpreter, if it has torch. Returns the
interpreter's path, or None and the reason there is none.
"""
import glob
import os
import subprocess
import sys

WHEELS = "/opt/wheels/torch-*.whl"


def has_module(python, module):
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def has_torch(python):
    return has_module(python, "torch")


def torch_python(venv, explicit=None, extra_packages=()):
    """(path, None) for a Python with torch, or (None, why) when none can be had."""
    if explicit:
        if has_torch(explicit):
            return explicit, None
        return None, f"{explicit} cannot import torch"
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python) and has_torch(python):
        # A venv another script made may lack this one's extras (numpy): add them to it.
        missing = [p for p in extra_packages if not has_module(python, p)]
        if missing:
            print(f"installing {' '.join(missing)} into {venv} ...", file=sys.stderr, flush=True)
            r = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                *missing], capture_output=True, text=True)
            if r.returncode != 0:
                tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
                return None, f"installing {' '.join(missing)} into {venv} failed: " + " / ".join(tail)
        return python, None
    if has_torch(sys.executable):
        return sys.executable, None
    wheels = sorted(glob.glob(WHEELS))
    if not wheels:
        return None, f"no torch wheel matches {WHEELS}, and {sys.executable} has no torch"
    print(f"installing {os.path.basename(wheels[-1])} into {venv} ...", file=sys.stderr, flush=True)
    steps = [[sys.executable, "-m", "venv", venv],
             [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheels[-1],
              *extra_packages]]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            return None, f"'{' '.join(cmd[:4])} ...' failed: " + " / ".join(tail)
    if not has_torch(python):
        return None, f"{python} still cannot import torch after installing {wheels[-1]}"
    return python, None
