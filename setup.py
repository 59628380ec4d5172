"""The lakeml distribution: Spark batch feature and training jobs for AWS EMR 7.x."""

from setuptools import setup

setup(
    name="lakeml",
    version="0.1.0",
    description="Spark batch jobs for EMR: logs and DMS dumps into Delta, Amazon ML recipes as features, MLlib models",
    packages=["jobs", "jobs.common", "features", "ml"],
    py_modules=["lakeml_main"],
    python_requires=">=3.9",
    # What the jobs need on every node. On EMR the cluster provides Spark and Delta.
    install_requires=[
        "boto3>=1.28",
        "pyarrow>=12",
        "pandas>=1.5,<3",
        "numpy>=1.21,<2",
        "pyyaml>=6",
    ],
    extras_require={
        # The local Spark stack, pinned to what EMR 7.13 runs (Spark 3.5.6, Delta 3.3.2).
        "local": ["pyspark==3.5.6", "delta-spark==3.3.2"],
        "test": ["pytest>=8", "chispa>=0.11", "hypothesis>=6", "moto[server]>=5"],
        "bench": ["duckdb>=1.0", "polars>=1.0", "scikit-learn>=1.3"],
        "dev": ["ruff>=0.6"],
    },
)
