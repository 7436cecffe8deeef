"""Build of the optional compiled kernels (dataprep._kernels); everything else is in pyproject.toml.

The extension is optional: where no C compiler is found the package installs without it and the
dedup stage uses its pure-Python/numpy path, which gives the same output, more slowly."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dataprep._kernels", ["dataprep/_kernels.c"],
                             extra_compile_args=["-O3", "-std=c11", "-Wall"], optional=True)])
