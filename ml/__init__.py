"""The ML side shared by train, evaluate and score: datasource, algorithms, metrics, registry."""
