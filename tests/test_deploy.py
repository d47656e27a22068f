"""Production-like settings: check --deploy is clean, Argon2 hashes, SECRET_KEY required."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(**extra: str) -> dict[str, str]:
    dev_only = {"DJANGO_DEBUG", "FLUX_TESTING", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dev_only}
    env.pop("SILENCED_SYSTEM_CHECKS", None)
    return env | {
        "SECRET_KEY": "x" * 20 + "-production-like-secret-key-" + "y" * 30,
        "ALLOWED_HOSTS": "praktijk.example",
        "EMAIL_URL": "smtp://mail.example:587",
    } | extra


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )


def test_check_deploy_reports_nothing() -> None:
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_production_hashes_passwords_with_argon2() -> None:
    code = "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])"
    result = manage("shell", "--no-imports", "-c", code, env=production_env())
    assert result.stdout.strip() == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_missing_secret_key_fails_with_a_clear_message() -> None:
    result = manage("check", env=production_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_demo_loader_refuses_in_production() -> None:
    result = manage("load_demo", env=production_env())
    assert result.returncode != 0
    assert "never in production" in result.stderr
