"""Build the Cython kernels in src/ into the gdcore package.

Compiler directives live here, in one place. The release build turns off
bounds, wraparound and initialisation checks; set ``GDCORE_DEBUG_CHECKS=1``
in the environment to build with them on (and C asserts kept, -O0 -g), which
CI does once to run the whole test suite against a checked build.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("GDCORE_DEBUG_CHECKS", "") not in ("", "0")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

COMPILE_ARGS = ["-O0", "-g", "-UNDEBUG"] if DEBUG else ["-O3"]

KERNELS = ["_linear", "_mlp"]

# Per-kernel additions. _mlp: no code relies on floating-point exception
# flags, and without them GCC can if-convert (and so vectorise) the clamps in
# the activation loops.
EXTRA_ARGS = {"_mlp": [] if DEBUG else ["-fno-trapping-math"]}

extensions = [
    Extension(
        f"gdcore.{name}",
        [f"src/{name}.pyx"],
        extra_compile_args=COMPILE_ARGS + EXTRA_ARGS.get(name, []),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNELS
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives=DIRECTIVES,
        # A debug and a release build must not share generated C.
        force=True,
    ),
)
