"""Build hooks of the cff package (metadata: pyproject.toml).

Two things pyproject.toml alone cannot say:
- the installed package records where libcff_c is: ``pkg-config --variable=libdir cff`` at install
  time (set PKG_CONFIG_PATH to ``<prefix>/lib/pkgconfig`` for a non-system prefix), or the
  ``CFF_PREFIX`` environment variable; it is written to ``cff/_install.py``;
- setuptools' scratch folders (``build/``, ``*.egg-info``) go to a temporary folder, not into the
  source tree.
"""
import atexit
import os
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py


def installed_libdir():
    """The libcff install prefix's library folder, or None when neither source names one."""
    prefix = os.environ.get("CFF_PREFIX")
    if prefix:
        for sub in ("lib", "lib64", "lib/x86_64-linux-gnu"):
            if os.path.exists(os.path.join(prefix, sub, "libcff_c.so")):
                return os.path.join(prefix, sub)
        raise SystemExit(f"CFF_PREFIX={prefix}: no lib/libcff_c.so under it")
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "cff"], capture_output=True, text=True)
    except OSError:
        return None
    libdir = out.stdout.strip()
    return os.path.realpath(libdir) if out.returncode == 0 and libdir else None


class BuildPyWithPrefix(build_py):
    """build_py that also writes cff/_install.py naming the libcff_c it was installed against."""

    def run(self):
        super().run()
        libdir = installed_libdir()
        library = os.path.join(libdir, "libcff_c.so") if libdir else None
        target = os.path.join(self.build_lib, "cff", "_install.py")
        with open(target, "w", encoding="utf-8") as f:
            f.write('"""Written at install time by setup.py: the libcff_c this package was installed against."""\n')
            f.write(f"LIBRARY = {library!r}\n")


scratch = tempfile.mkdtemp(prefix="cff-python-build-")
atexit.register(shutil.rmtree, scratch, ignore_errors=True)
setup(
    cmdclass={"build_py": BuildPyWithPrefix},
    options={"build": {"build_base": os.path.join(scratch, "build")},
             "egg_info": {"egg_base": scratch}},
)
