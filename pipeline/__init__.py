"""wiretrace pipeline: a Prefect-free library whose modules are the stages, in data order.

ingest -> normalize -> signatures -> candidates -> align -> cluster -> provenance -> store
"""

__version__ = "0.1.0"
