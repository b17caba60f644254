"""Run the service: python -m serve [--host H] [--port P] [--model-dir DIR] [--workers N] [--SETTING VALUE ...].

Every setting of serve/settings.py (docs/operating.md, Settings) is also an option (--log-format json for MODERATION_LOG_FORMAT=json, and so
on); an option given wins over the environment, which wins over the default (127.0.0.1:8000, models/current,
no trusted proxy). The API keys and Coral's secrets are read from the environment (or a keys file) only: a
command line is visible to every local user. The model is loaded and checked before the server binds: a
missing or corrupt model stops the start with a message instead of serving errors.

    python -m serve --model-dir models/default                     # loopback, no keys needed
    MODERATION_API_KEYS_FILE=keys.json python -m serve --host 0.0.0.0 --workers 2 --log-format json
"""

import argparse
import json
import os
import sys
from typing import Any

import uvicorn

from model.artifact import ArtifactError, load_model
from model.policy import PolicyError

from . import logs, workers
from .app import create_app
from .auth import AuthConfigError
from .perspective_attributes import load_attributes
from .settings import Settings

# Settings never taken from the command line: `ps` shows a process's arguments to every local user.
ENVIRONMENT_ONLY = frozenset({"api_keys", "coral_signing_secrets", "console_secret"})


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    for name, field in Settings.model_fields.items():
        if name in ENVIRONMENT_ONLY:
            continue
        variable = f"MODERATION_{name.upper()}"
        listed = ", comma-separated or a JSON list" if _is_list(name) else ""
        what = f"{field.description}; " if field.description else ""
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar="VALUE",
            help=f"{what}default ${variable}, else {default!s}{listed}",
        )


def _is_list(name: str) -> bool:
    return getattr(Settings.model_fields[name].annotation, "__origin__", None) is list


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as options, as pydantic takes them: it converts and checks the strings."""
    given: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(args, name, None)
        if value is None:
            continue
        if _is_list(name) and not value.strip().startswith("["):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif _is_list(name):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f"--{name.replace('_', '-')}: not a JSON list ({e}); or give the items comma-separated"
                ) from None
        given[name] = value
    return given


def main(argv: list[str] | None = None, prog: str = "python -m serve") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").replace("python -m serve", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_setting_options(parser)
    args = parser.parse_args(argv)
    try:
        overrides = _given(args)
        settings = Settings(**overrides)
    except ValueError as e:  # pydantic's ValidationError names the setting and the bad value
        print(f"error: cannot start, invalid settings: {e}", file=sys.stderr)
        return 1
    logs.configure(settings.log_level, settings.log_format)
    try:
        loaded = load_model(settings.model_dir)
        load_attributes(loaded)  # its attributes/ too: a damaged folder stops the start, naming the file
    except ArtifactError as e:
        print(f"error: cannot start, the model is not usable: {e}", file=sys.stderr)
        return 1
    try:
        app = create_app(settings, loaded)
    except (PolicyError, AuthConfigError) as e:
        print(f"error: cannot start, the configuration is not usable: {e}", file=sys.stderr)
        return 1
    if settings.workers <= 1:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
            **logs.uvicorn_log_config(settings.log_format),
            **settings.uvicorn_proxy_options(),
        )
        return 0
    # Several workers: each imports the app itself, reading settings from the environment. Everything was
    # checked above in this process, so a bad model or config never reaches a worker.
    del app, loaded
    os.environ.update(
        {f"MODERATION_{k.upper()}": json.dumps(v) if isinstance(v, list) else str(v) for k, v in overrides.items()}
    )
    return workers.run(settings.host, settings.port, settings.workers, settings.log_level)


if __name__ == "__main__":
    sys.exit(main())
