"""Where the experiment scripts of this folder find the project, its kernels' build commands and
Halide's tools."""
import os
import re
import shlex
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


def kernel_commands(build):
    """{kernel: argv} of every kernel generator run in build/<build>/build.ninja."""
    commands = {}
    with open(os.path.join(ROOT, "build", build, "build.ninja")) as f:
        for line in f:
            m = re.match(r"^\s*COMMAND = cd \S+ && (\S+\.generator) -n (\S+) (.*)$", line)
            if not m:
                continue
            argv = [m.group(1), "-n", m.group(2)] + shlex.split(m.group(3))
            if "autoscheduler=" in m.group(3):
                continue
            commands[m.group(2)] = argv
    return commands
