"""Where the experiment scripts of this folder find the project and Halide's tools."""
import os
import subprocess

# The project's root (this file is experiments/autoschedulers/experiment_paths.py).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Halide's autoschedulers and the name of each one's plugin, libautoschedule_<name>.so.
PLUGINS = {"Mullapudi2016": "mullapudi2016", "Li2018": "li2018", "Adams2019": "adams2019",
           "Anderson2021": "anderson2021"}


def halide_dir():
    """The installed Halide package of the project's .venv (bin/, lib64/, share/tools/)."""
    python = os.path.join(ROOT, ".venv", "bin", "python")
    out = subprocess.run([python, "-c", "import halide, os; print(os.path.dirname(halide.__file__))"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def plugin_path(halide, autoscheduler):
    """The plugin of `autoscheduler` in the Halide package at `halide`."""
    return os.path.join(halide, "lib64", f"libautoschedule_{PLUGINS[autoscheduler]}.so")
