"""The two C modules; everything else about the package is in pyproject.toml.

Both are optional: where no C compiler is found, the build says so and goes on, and Regie
runs the same code in Python (regie.connectors.json_doc falls back on orjson,
regie.connectors.base and regie.connectors.terraform.state on their Python walks). They live
here because setuptools' ``[tool.setuptools.ext-modules]`` table is still experimental.
"""

from setuptools import Extension, setup


def optional(name: str, source: str) -> Extension:
    return Extension(f"regie.connectors.{name}", [source], optional=True, extra_compile_args=["-O2"])


setup(
    ext_modules=[
        # The JSON parser of large documents: orjson's values, a document's short strings shared.
        optional("_json", "connectors/_json.c"),
        # The secret-redaction walk and the common instance of the Terraform state reader.
        optional("_speedups", "connectors/_speedups.c"),
    ]
)
