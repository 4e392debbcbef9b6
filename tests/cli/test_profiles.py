"""Named profiles in the config file (`[profiles.NAME]`), chosen by --profile or
PJOBS_PROFILE, and `config show` / `config profiles`, secrets hidden."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CLI, cli_env

PASSWORD = "hunter2-never-shown"
TOKEN = "receiver-token-of-32-characters-or-more"


def with_profiles(tmp_path: Path) -> CLI:
    """`pjobs` with no database named but in the config file's profiles."""
    config = tmp_path / "xdg-config" / "pjobs" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "max_payload_bytes = 4096\n"
        "[profiles.staging]\n"
        f'database_url = "sqlite://{tmp_path}/staging.db"\n'
        "[profiles.prod]\n"
        f'database_url = "postgresql://ops:{PASSWORD}@127.0.0.1:1/prod"\n'
        "[profiles.prod.worker]\n"
        "concurrency = 8\n"
    )
    return CLI(cli_env(tmp_path, None), tmp_path / "logs")


def test_a_profile_names_the_database_and_its_settings(tmp_path: Path) -> None:
    cli = with_profiles(tmp_path)
    assert cli("--profile", "staging", "jobs", "enqueue", "noop").returncode == 0
    assert (tmp_path / "staging.db").is_file()  # the profile's database, not the default
    assert not (tmp_path / "xdg-data" / "pjobs" / "pjobs.db").exists()
    by_env = CLI({**cli.env, "PJOBS_PROFILE": "staging"}, cli.logs)
    assert json.loads(by_env("jobs", "stats", "--json").stdout)["states"] == {"queued": 1}

    shown = by_env("--profile", "prod", "config", "show", "--json")  # the flag wins
    document = json.loads(shown.stdout)
    assert document["profile"] == "prod"
    assert document["settings"]["worker"]["concurrency"] == 8
    assert document["settings"]["max_payload_bytes"] == 4096  # the file's, under the profile
    over = CLI({**cli.env, "PJOBS_WORKER__CONCURRENCY": "3"}, cli.logs)
    lines = over("--profile", "prod", "config", "show").stdout.splitlines()
    assert "worker.concurrency = 3" in lines  # the environment over the profile

    typo = cli("--profile", "prd", "jobs", "list")
    assert typo.returncode == 78
    assert "no profile 'prd'" in typo.stderr and "did you mean prod?" in typo.stderr


def test_config_show_and_profiles_hide_every_secret(tmp_path: Path) -> None:
    cli = with_profiles(tmp_path)
    secret = CLI({**cli.env, "PJOBS_RECEIVER__TOKEN": TOKEN}, cli.logs)
    for args in (("config", "show"), ("config", "show", "--json"), ("config", "profiles")):
        done = secret("--profile", "prod", *args)
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stdout + done.stderr and TOKEN not in done.stdout
    lines = secret("--profile", "prod", "config", "show").stdout.splitlines()
    assert 'receiver.token = "**********"' in lines
    assert 'database_url = "postgresql://ops:<password>@127.0.0.1:1/prod"' in lines
    listed = json.loads(secret("--profile", "prod", "config", "profiles", "--json").stdout)
    assert [(p["name"], p["active"]) for p in listed["profiles"]] == [
        ("prod", True),
        ("staging", False),
    ]
    assert listed["profiles"][0]["sets"] == ["database_url", "worker.concurrency"]
