"""Batch scoring of a comment archive: readers, the per-partition scorer, the Parquet part writer, engines.

`python -m training.score` is the entry point; the local and Dask engines both call
`scorer.score_partition` on the same partitions, so their outputs are the same row for row.
"""
