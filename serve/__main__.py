"""Run the service: python -m serve [--host H] [--port P] [--model-dir DIR] [--trusted-proxies LIST].

Options default to MODERATION_HOST / MODERATION_PORT / MODERATION_MODEL_DIR / MODERATION_TRUSTED_PROXIES,
then 127.0.0.1:8000, models/current and no trusted proxy (X-Forwarded-For is ignored from everyone). The
model is loaded and checked before the server binds: a missing or corrupt model stops the start with a
message instead of serving errors.
"""

import argparse
import logging
import os
import sys

import uvicorn

from model.artifact import ArtifactError, load_model
from model.policy import PolicyError

from . import workers
from .app import create_app
from .auth import AuthConfigError
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--model-dir")
    parser.add_argument(
        "--trusted-proxies",
        help="comma-separated addresses or CIDR networks of reverse proxies whose X-Forwarded-For is believed",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes, each with its own model copy (2 suits 2 cores)"
    )
    args = parser.parse_args(argv)
    given = {"host": args.host, "port": args.port, "model_dir": args.model_dir, "trusted_proxies": args.trusted_proxies}
    overrides = {k: v for k, v in given.items() if v}
    try:
        settings = Settings(**overrides)
    except ValueError as e:  # pydantic's ValidationError names the setting and the bad value
        print(f"error: cannot start, invalid settings: {e}", file=sys.stderr)
        return 1
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        loaded = load_model(settings.model_dir)
    except ArtifactError as e:
        print(f"error: cannot start, the model is not usable: {e}", file=sys.stderr)
        return 1
    try:
        app = create_app(settings, loaded)
    except (PolicyError, AuthConfigError) as e:
        print(f"error: cannot start, the configuration is not usable: {e}", file=sys.stderr)
        return 1
    if args.workers <= 1:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
            **settings.uvicorn_proxy_options(),
        )
        return 0
    # Several workers: each imports the app itself, reading settings from the environment. Everything was
    # checked above in this process, so a bad model or config never reaches a worker.
    del app, loaded
    os.environ.update({f"MODERATION_{k.upper()}": str(v) for k, v in overrides.items()})
    return workers.run(settings.host, settings.port, args.workers, settings.log_level)


if __name__ == "__main__":
    sys.exit(main())
