"""The `comment-moderation` console script (serve/cli.py): subcommands, help, version, lazy imports."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from serve.cli import COMMANDS, PROG, main
from serve.settings import Settings

from .conftest import ROOT

HEAVY = ("torch", "sklearn", "transformers", "scipy")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The console script's code in a fresh interpreter, reporting which heavy libraries it imported."""
    code = (
        "import sys\n"
        "from serve.cli import main\n"
        "try:\n"
        f"    code = main({list(args)!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        f"print('IMPORTED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_version_is_the_installed_package_version_and_imports_nothing_heavy():
    out = run_cli("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"{PROG} {importlib.metadata.version('comment-moderation')}"
    assert "IMPORTED []" in out.stdout


def test_serve_help_names_every_setting_without_importing_torch_or_sklearn():
    out = run_cli("serve", "--help")
    assert out.returncode == 0, out.stderr
    assert "IMPORTED []" in out.stdout
    assert f"usage: {PROG} serve" in out.stdout
    assert f"{PROG} serve --model-dir models/default" in out.stdout  # the example, in this command's words
    for name in Settings.model_fields:
        option = f"--{name.replace('_', '-')}"
        if name in ("api_keys", "coral_signing_secrets", "console_secret"):  # secrets: `ps` shows a command line
            assert option + " " not in out.stdout
        else:
            assert option in out.stdout and f"$MODERATION_{name.upper()}" in out.stdout, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name: str, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {PROG} {name}"), text[:200]
    assert f"{PROG} {name} " in text.split("\n", 1)[1], f"no example of `{PROG} {name}` in its help:\n{text}"


def test_top_level_help_lists_every_command_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name, command in COMMANDS.items():
        assert name in text and f"{PROG} {command.example}" in text


def test_unknown_command_is_refused_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'train'" in err and "fit" in err and "serve" in err


def test_options_after_the_command_reach_it(tmp_path: Path, capsys):
    """`db upgrade --database URL` is the storage command's own option, not the dispatcher's."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert main(["db", "upgrade", "--database", url]) == 0
    assert main(["db", "current", "--database", url]) == 0
    from storage.migrate import head_revision

    assert f"database: {head_revision()}" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["serve", "storage", "training.fit", "training.score"])
def test_python_dash_m_still_works_under_its_own_name(module: str):
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: python -m {module}")


@pytest.mark.parametrize(
    ("option", "named"),
    [
        (["--max-comments", "0"], "max_comments"),
        (["--log-format", "xml"], "log_format"),
        (["--cors-origins", "[nope"], "--cors-origins"),
    ],
)
def test_a_bad_serve_option_stops_the_start_naming_it(option: list[str], named: str, capsys):
    """Options are checked by the same settings class as the environment, before anything is loaded."""
    assert main(["serve", *option]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot start, invalid settings") and named in err, err
