"""The EMR side of lakeml: the artifact, the step and cluster requests, the boto3 launcher.

Not shipped to the cluster. `deploy.steps` imports neither boto3 nor pyspark (the Airflow DAG uses it).
"""
