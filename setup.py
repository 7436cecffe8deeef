"""Build of the optional compiled kernels (dataprep._kernels, dataprep._fasttext); everything else is
in pyproject.toml.

The extensions are optional: where no C compiler is found the package installs without them; the
dedup stage then uses its pure-Python/numpy path and langid the fasttext binding, which give the
same output, more slowly. dataprep._fasttext must be built without -ffast-math or -march flags: its
float operations have to run in the order and precision of fastText's C++."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dataprep._kernels", ["dataprep/_kernels.c"],
                             extra_compile_args=["-O3", "-std=c11", "-Wall"], optional=True),
                   Extension("dataprep._fasttext", ["dataprep/_fasttext.c"],
                             extra_compile_args=["-O3", "-std=c11", "-Wall"], optional=True)])
