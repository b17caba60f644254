"""The evaluation report: numbers (metrics, calibration, policy, slices, fairness, errors, comparison),
charts, and the HTML / Markdown / JSON writers. `build.build_report` assembles everything from labels and
probabilities, so the arithmetic is testable without a model; `training.evaluate` is the CLI over it.
"""
