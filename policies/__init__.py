"""The policy files that ship with the package (default.toml).

A package, not a plain folder, so that the wheel carries them and `model.policy` finds them through
importlib.resources wherever the package is installed, whatever the current directory.
"""
