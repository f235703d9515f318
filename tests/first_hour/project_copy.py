"""A copy of the checkout a test can treat as a new user's clone: `make run`, the README's
commands and `make clean` run in it without touching the developer's own stack, data or venv.

The copy holds the files git would give a clone (tracked, plus new files not ignored), so it is
what the next commit would contain. Installing the project again with pip would take minutes and
the network, so the copy's `.venv` is a small virtualenv that layers the copy's `src/` over the
checkout's installed packages (a .pth file) and has the project's console scripts; `make`
sees it as installed (`.venv/.installed` newer than pyproject.toml). Both packages of the
project (retail_pipeline and retailers) are the copy's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"kedro": "kedro.framework.cli:main", "retail-pipeline": "retail_pipeline.__main__:main"}


def checkout_files(root: Path = ROOT) -> list[str]:
    """Paths a clone of the working tree would hold (tracked or new, not ignored, present)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=root, capture_output=True, text=True, check=True).stdout
    return [p for p in listed.split("\0") if p and (root / p).is_file()]


def copy_checkout(dest: Path, root: Path = ROOT) -> Path:
    """Copy the checkout's files to `dest`, keeping modification times (make compares them)."""
    for relative in checkout_files(root):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return dest


def overlay_venv(project: Path) -> Path:
    """`project/.venv`: this interpreter's packages with `project/src` first on sys.path."""
    venv = project / ".venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # noqa: SLF001
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    ours = sysconfig.get_paths()["purelib"]
    # First the copy's package, then the checkout's site-packages with its own .pth files
    # (its editable install adds the checkout's src/ after ours).
    (site / "000_project_copy.pth").write_text(f"{project / 'src'}\nimport site; site.addsitedir({ours!r})\n")
    # The project installs two packages (pyproject.toml): the copy's retailers/ too, ahead of the
    # checkout's editable finder.
    (site / "retailers").symlink_to(project / "retailers", target_is_directory=True)
    for name, target in SCRIPTS.items():
        module, func = target.split(":")
        script = venv / "bin" / name
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} import {func}\n"
                          f"if __name__ == '__main__':  # as pip writes them (multiprocessing re-imports)\n"
                          f"    sys.exit({func}())\n")
        script.chmod(0o755)
    (venv / ".installed").touch()
    later = (project / "pyproject.toml").stat().st_mtime + 1
    os.utime(venv / ".installed", (later, later))
    return venv


def new_user_checkout(dest: Path) -> Path:
    """A copy of the checkout with its overlay venv, ready for `make run`."""
    project = copy_checkout(dest)
    overlay_venv(project)
    return project
