"""What pyproject.toml cannot say (the metadata is all there).

1. The installed package remembers the clone it was built from:
   seqcls/_where.py, written into the build (never into the source tree),
   names <clone>/lib/libseqcls.so.1, which seqcls/_lib.py tries after
   SEQCLS_LIBRARY and before the system's library.  So `pip install
   ./bindings/python` in a clone where `make` ran needs no SEQCLS_LIBRARY.
   A wheel built elsewhere (from an sdist) records nothing.
2. setuptools' scratch directories (build/, seqcls.egg-info) go to a
   temporary directory, removed at the end, not into bindings/python.
"""
import atexit
import os
import shutil
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
CLONE = os.path.normpath(os.path.join(HERE, "..", ".."))


class BuildPy(build_py):
    def run(self):
        super().run()
        library = None
        if os.path.isfile(os.path.join(CLONE, "include", "seqcls.h")):
            library = os.path.join(CLONE, "lib", "libseqcls.so.1")
        target = os.path.join(self.build_lib, "seqcls", "_where.py")
        with open(target, "w") as f:
            f.write('"""Written by setup.py: the build tree this copy was installed from."""\n'
                    "BUILD_TREE_LIBRARY = %r\n" % (library,))


scratch = tempfile.mkdtemp(prefix="seqcls-pip-")
atexit.register(shutil.rmtree, scratch, True)

setup(cmdclass={"build_py": BuildPy},
      options={"build": {"build_base": os.path.join(scratch, "build")},
               "egg_info": {"egg_base": scratch}})
