"""The lakeml distribution: Spark batch feature and training jobs for AWS EMR 7.x."""

from setuptools import find_packages, setup

setup(
    name="lakeml",
    version="0.1.0",
    description="Spark batch jobs for EMR: logs and DMS dumps into Delta, Amazon ML recipes as features, MLlib models",
    packages=[
        *find_packages(
            include=["core", "core.*", "jobs", "jobs.*", "features", "features.*", "ml", "ml.*", "deploy", "deploy.*"]
        ),
        # cluster, step and IAM definitions as data: deploy.steps reads them beside the deploy package
        "emr_config",
        "emr_config.iam",
    ],
    package_data={"emr_config": ["*.json"], "emr_config.iam": ["*.json"]},
    py_modules=["lakeml_main"],
    python_requires=">=3.9",
    # What core/, jobs/, features/ and ml/ import on every node (the cluster provides Spark, py4j and Delta);
    # bootstrap/lock/ pins the whole tree with hashes for EMR.
    install_requires=[
        "pyyaml>=6",
        "pydantic>=2.6,<3",
        "numpy>=1.21,<2",
        "matplotlib>=3.8",
        # features.windows_spectral's applyInPandas: pandas on the executors, Arrow to feed it
        "pandas>=1.5,<3",
        "pyarrow>=12",
    ],
    extras_require={
        # The launcher (deploy/) talks to S3 and EMR; nothing on the nodes imports boto3.
        "deploy": ["boto3>=1.28"],
        # The local Spark stack, pinned to what EMR 7.13 runs (Spark 3.5.6, Delta 3.3.2).
        "local": ["pyspark==3.5.6", "delta-spark==3.3.2"],
        "test": ["pytest>=8", "chispa>=0.11", "hypothesis>=6", "moto[server]>=5", "deltalake>=0.20"],
        "bench": ["duckdb>=1.0", "polars>=1.0", "scikit-learn>=1.3"],
        "dev": ["ruff>=0.6"],
    },
)
