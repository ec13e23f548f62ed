"""Build script for the C kernels and their Cython wrapper.

All of csrc/*.c is compiled into one extension, tinycnn._kernels.  Files whose
name ends in `_avx2.c` are compiled with -mavx2 -mfma (x86-64 only), `_avx512.c`
with -mavx512f added, `_avxvnni.c` with -mavxvnni added, `_avx512vnni.c` with
AVX-512 F/BW/VL/VNNI added; they are only ever called after a CPUID check, so the
package still runs on any x86-64.
Never -march=native: wheels must run on machines other than the build host.
Set TINYCNN_SANITIZE=1 to build with AddressSanitizer and UBSan.

Rebuilds are incremental: an object file is compiled again only when its source, any header
of csrc/ or its command line (flags, macros, compiler; numpy's version) is newer or different
than when it was built (the command is kept beside the object, `<object>.cmd`).  A change to
one kernel file recompiles that file and relinks (seconds) instead of the whole extension
(minutes, mostly the Cython wrapper).  `python setup.py build_ext --inplace --force` rebuilds
everything.
"""
import os
import platform
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
SANITIZE = os.environ.get("TINYCNN_SANITIZE", "") not in ("", "0")

c_sources = sorted(glob("csrc/*.c"))
if not IS_X86:
    c_sources = [s for s in c_sources
                 if not s.endswith(("_avx2.c", "_avx512.c", "_avxvnni.c", "_avx512vnni.c"))]

extra_compile = ["-O3", "-std=c99", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function"]
extra_link = ["-pthread"]
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if IS_X86:
    macros.append(("TC_HAVE_AVX2_SOURCES", "1"))
if SANITIZE:
    extra_compile += ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined"]
    extra_link += ["-fsanitize=address,undefined"]


HEADERS = sorted(glob("csrc/*.h"))


def up_to_date(obj, src, command):
    """True when obj was built from src by the same command and is newer than src and every
    header of csrc/ (kernel sources include each other's headers; all of them are listed as
    the extension's depends too)."""
    stamp = obj + ".cmd"
    try:
        built = os.path.getmtime(obj)
        with open(stamp) as f:
            same = f.read() == command
    except OSError:
        return False
    return same and all(os.path.getmtime(p) <= built for p in [src] + HEADERS)


class BuildExt(build_ext):
    """Adds ISA flags to the *_avx2.c and *_avx512.c files only; skips up-to-date objects."""

    def build_extensions(self):
        original = self.compiler._compile
        compiler_so = self.compiler.compiler_so

        def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
            postargs = list(extra_postargs)
            if src.endswith("_avx2.c"):
                postargs += ["-mavx2", "-mfma"]
            elif src.endswith("_avx512.c"):
                postargs += ["-mavx2", "-mfma", "-mavx512f"]
            elif src.endswith("_avxvnni.c"):
                postargs += ["-mavx2", "-mfma", "-mavxvnni"]
            elif src.endswith("_avx512vnni.c"):
                postargs += ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl",
                             "-mavx512vnni"]
            if src.endswith(".c") and "csrc" not in src:
                # Cython output is not C99-clean; compile it with the default standard.
                postargs = [a for a in postargs if a != "-std=c99"]
            # numpy's version too: its headers (the Cython wrapper's) change with it, not
            # their path
            command = repr((compiler_so, cc_args, postargs, pp_opts, np.__version__))
            if not self.force and up_to_date(obj, src, command):
                return None
            if os.path.exists(obj + ".cmd"):
                os.remove(obj + ".cmd")
            result = original(obj, src, ext, cc_args, postargs, pp_opts)
            with open(obj + ".cmd", "w") as f:
                f.write(command)
            return result

        self.compiler._compile = _compile
        super().build_extensions()


extensions = [
    Extension(
        "tinycnn._kernels",
        sources=["tinycnn/_kernels.pyx"] + c_sources,
        depends=sorted(glob("tinycnn/*.pxi") + glob("csrc/*.h")),
        include_dirs=["csrc", np.get_include()],
        define_macros=macros,
        extra_compile_args=extra_compile,
        extra_link_args=extra_link,
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
    ),
    cmdclass={"build_ext": BuildExt},
)
