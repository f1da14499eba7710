"""Build the Cython kernels in src/ into the gdcore package.

Everything about compiling lives here, in one place:

* Cython directives: the release build turns off bounds, wraparound and
  initialisation checks; ``GDCORE_DEBUG_CHECKS=1`` builds with them on (and
  C asserts kept, -O0 -g), which CI does once to run the tests against it.
  ``GDCORE_SANITIZE=1`` adds AddressSanitizer and UndefinedBehaviorSanitizer
  (any report aborts); the interpreter then needs libasan preloaded, as
  .ci/run does.
* Portable wheels with fast kernels: on x86-64 the modules whose speed
  depends on the vector width (the linear and network passes, the read
  floor, the epoch loop) are compiled three times from the same source,
  for the baseline ISA (any x86-64 CPU), for x86-64-v3 (AVX2, FMA) and for
  x86-64-v4 (AVX-512), as
  ``gdcore._pass_linear``, ``gdcore._pass_linear_v3`` and
  ``gdcore._pass_linear_v4``; ``gdcore/_dispatch.py`` picks the best one the
  CPU runs, at import time. ``GDCORE_ISA_VARIANTS=0`` builds the baseline only.
  The epoch loop's optimizer steps vectorise (an Adam step over a network's
  parameters is two divisions and a square root each, exact in any vector
  width, so every build steps alike). BLAS does the network pass's
  products, the per-ISA build its activations and sums. The helpers are
  built once.
* Parallel builds: Cython and the C compiler run on every core.
* Floating point: vectorising a sum needs leave to reassociate it
  (``-fassociative-math`` and its prerequisites, for the row pass and the
  floor). The epoch loop is compiled without contracting a * b + c into FMAs,
  so its optimizer steps round exactly as their NumPy references do. Nothing
  that changes results beyond rounding is enabled: no -ffinite-math-only (the
  kernels test for NaN and infinity), no flush-to-zero.
* Threads (``n_jobs``): the row pass runs its own POSIX threads (src/_pool.h).
  ``gdcore._util`` links OpenMP, when the compiler supports it, only to read
  the OpenMP thread limit that ``n_jobs=-1`` respects (OMP_NUM_THREADS,
  threadpoolctl). ``GDCORE_OPENMP=0`` builds without it.
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup


def _flag(name, default):
    return os.environ.get(name, default) not in ("", "0")


DEBUG = _flag("GDCORE_DEBUG_CHECKS", "")
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
GCC_LIKE = sys.platform != "win32"

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

# Compiled modules (src/<name>.pyx -> gdcore.<name>), and whether each is built
# once per ISA variant.
KERNELS = {"_pass_linear": True, "_floor": True, "_pass_mlp": True, "_loop": True,
           "_scan": True, "_util": False}

# ISA variants: module suffix -> extra compiler flags.
VARIANTS = {"": []}
if X86_64 and GCC_LIKE and _flag("GDCORE_ISA_VARIANTS", "1"):
    VARIANTS["_v3"] = ["-march=x86-64-v3"]
    VARIANTS["_v4"] = ["-march=x86-64-v4", "-mprefer-vector-width=512"]

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer"] if _flag("GDCORE_SANITIZE", "") and GCC_LIKE else []

if DEBUG:
    BASE_FLAGS = ["-O0", "-g", "-UNDEBUG"]
elif GCC_LIKE:
    BASE_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
else:
    BASE_FLAGS = ["/O2"]

# Leave to reassociate sums, so the compiler vectorises the row pass's
# reductions. Not for _pass_mlp: its activation loops are exact-rounding
# polynomial evaluations that reassociation would change.
REASSOCIATE = ["-fassociative-math", "-fno-signed-zeros"] if GCC_LIKE and not DEBUG else []
# _pass_linear specialises its row loops by inlining one function at many call
# sites with literal widths (see span_pass); GCC's default growth limits (code
# size, and stack frame: the SIMD pass keeps its accumulators in arrays) stop
# inlining part way, which leaves some widths on a slow generic loop.
INLINE_ALL = (["--param", "inline-unit-growth=1000", "--param", "large-function-growth=2000",
               "--param", "max-inline-insns-single=2000",
               "--param", "large-stack-frame-growth=10000"] if GCC_LIKE and not DEBUG else [])
EXACT_STEPS = ["-ffp-contract=off"] if GCC_LIKE else []
KERNEL_FLAGS = {"_pass_linear": REASSOCIATE + INLINE_ALL, "_floor": REASSOCIATE,
                "_pass_mlp": [], "_loop": EXACT_STEPS, "_scan": EXACT_STEPS,
                "_util": []}
JOBS = os.cpu_count() or 1


def _openmp_flags():
    """(compile, link) flags for OpenMP if the C compiler accepts them, else ([], [])."""
    if not GCC_LIKE or not _flag("GDCORE_OPENMP", "1"):
        return [], []
    cc = os.environ.get("CC", "cc")
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        ok = subprocess.run([cc, "-fopenmp", src, "-o", os.path.join(tmp, "omp")],
                            capture_output=True).returncode == 0
    except OSError:
        ok = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return (["-fopenmp"], ["-fopenmp"]) if ok else ([], [])


PTHREAD = (["-pthread"], ["-pthread"]) if GCC_LIKE else ([], [])
THREADS = {"_pass_linear": PTHREAD, "_util": _openmp_flags()}
THREADS.update({kernel: ([], []) for kernel in KERNELS if kernel not in THREADS})

SHARED = "gdcore._cyutility"  # the memoryview machinery, compiled once for every module


def _source(kernel, suffix):
    """The .pyx of one build: the kernel's own, or for an ISA variant a stub that includes
    it (one cythonize call then makes every module, in parallel, into one build dir)."""
    if not suffix:
        return f"src/{kernel}.pyx"
    os.makedirs(os.path.join("build", "variants"), exist_ok=True)
    stub = os.path.join("build", "variants", f"{kernel}{suffix}.pyx")
    text = f'# The {suffix[1:]} build of src/{kernel}.pyx (generated by setup.py).\ninclude "{kernel}.pyx"\n'
    if not os.path.exists(stub) or open(stub).read() != text:
        with open(stub, "w") as f:
            f.write(text)
    return stub


extensions = [Extension(SHARED, [os.path.join("build", "cython", "_cyutility.c")],
                        extra_compile_args=SANITIZE, extra_link_args=SANITIZE)]
for kernel, per_isa in KERNELS.items():
    for suffix, isa_flags in (VARIANTS if per_isa else {"": []}).items():
        extensions.append(Extension(
            f"gdcore.{kernel}{suffix}",
            [_source(kernel, suffix)],
            include_dirs=["src"],
            extra_compile_args=(BASE_FLAGS + KERNEL_FLAGS[kernel] + isa_flags
                                + THREADS[kernel][0] + SANITIZE),
            extra_link_args=THREADS[kernel][1] + SANITIZE,
        ))

extensions = cythonize(
    extensions,
    include_path=["src"],
    compiler_directives=DIRECTIVES,
    build_dir=os.path.join("build", "cython"),
    shared_utility_qualified_name=SHARED,
    force=True,
    quiet=True,
    nthreads=JOBS,
)

setup(ext_modules=extensions, options={"build_ext": {"parallel": JOBS}})
