import re
from pathlib import Path

import pytest

from aloft.config import SETTINGS, ConfigError, Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def settings(**environ: str) -> Settings:
    return Settings.from_env(environ, dotenv=None)


def test_defaults_need_no_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = settings()
    assert config.data_dir == tmp_path / "aloft-data"
    assert config.database_url == f"sqlite:///{tmp_path / 'aloft-data' / 'aloft.db'}"
    assert config.redis_url is None and config.embedded
    assert config.base_url == "http://localhost:8000"
    assert (config.host, config.port, config.web_workers) == ("127.0.0.1", 8000, 2)
    assert config.log_level == "info"
    assert (config.org_name, config.admin_email) == ("Default", "admin@localhost")
    assert config.rate_limit == 600
    assert config.target_policy == "private-ok"
    assert config.plugins_disabled == frozenset()
    assert config.secret_key == ""


def test_every_variable_is_read(tmp_path):
    config = settings(
        ALOFT_DATA_DIR=str(tmp_path / "d"),
        ALOFT_DATABASE_URL="postgresql://aloft:pw@db.internal/aloft",
        ALOFT_REDIS_URL="redis://cache:6379/2",
        ALOFT_SECRET_KEY="s" * 32,
        ALOFT_BASE_URL="https://status.example.com/",
        ALOFT_HOST="0.0.0.0",
        ALOFT_PORT="9000",
        ALOFT_WEB_WORKERS="4",
        ALOFT_LOG_LEVEL="DEBUG",
        ALOFT_ORG_NAME="Acme Corp",
        ALOFT_ADMIN_EMAIL="ops@example.com",
        ALOFT_RATE_LIMIT="120",
        ALOFT_TARGET_POLICY="public-only",
        ALOFT_PLUGINS_DISABLED="http, ssl,,",
    )
    assert config.data_dir == tmp_path / "d"
    assert config.database_url == "postgresql+psycopg://aloft:pw@db.internal/aloft"
    assert config.database_url_for_display == "postgresql+psycopg://aloft:***@db.internal/aloft"
    assert config.redis_url == "redis://cache:6379/2" and not config.embedded
    assert config.secret_key == "s" * 32
    assert config.base_url == "https://status.example.com"
    assert (config.host, config.port, config.web_workers) == ("0.0.0.0", 9000, 4)
    assert config.log_level == "debug"
    assert (config.org_name, config.admin_email) == ("Acme Corp", "ops@example.com")
    assert config.rate_limit == 120
    assert config.target_policy == "public-only"
    assert config.plugins_disabled == frozenset({"http", "ssl"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ALOFT_DATABASE_URL", "not a url", "is not a database URL"),
        ("ALOFT_DATABASE_URL", "mysql://db/aloft", "unsupported database 'mysql'"),
        ("ALOFT_REDIS_URL", "http://cache", "is not a redis://"),
        ("ALOFT_SECRET_KEY", "short", "at least 16 characters"),
        ("ALOFT_BASE_URL", "status.example.com", "must start with http"),
        ("ALOFT_PORT", "eighty", "is not a whole number"),
        ("ALOFT_PORT", "70000", "out of range"),
        ("ALOFT_WEB_WORKERS", "0", "out of range"),
        ("ALOFT_LOG_LEVEL", "loud", "is not one of"),
        ("ALOFT_RATE_LIMIT", "-1", "out of range"),
        ("ALOFT_TARGET_POLICY", "anything-goes", "is not one of private-ok, public-only"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_setting(name, value, message):
    with pytest.raises(ConfigError) as error:
        settings(**{name: value})
    assert str(error.value).startswith(f"{name}: ")
    assert message in str(error.value)


def test_blank_values_mean_the_default():
    assert settings(ALOFT_REDIS_URL="  ", ALOFT_PORT="").redis_url is None


def test_a_dotenv_file_fills_in_what_the_environment_does_not_set(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("ALOFT_PORT=9100\nALOFT_ORG_NAME=From dotenv\n")
    config = Settings.from_env({"ALOFT_ORG_NAME": "From environment"}, dotenv=dotenv)
    assert config.port == 9100
    assert config.org_name == "From environment"


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path):
    config = settings(ALOFT_DATA_DIR=str(tmp_path / "data"))
    first = config.with_secret_key()
    second = config.with_secret_key()
    stored = tmp_path / "data" / "secret_key"
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key == stored.read_text().strip()
    assert stored.stat().st_mode & 0o777 == 0o600


def test_without_create_the_stored_secret_key_is_read_and_nothing_is_made(tmp_path):
    config = settings(ALOFT_DATA_DIR=str(tmp_path / "data"))
    assert config.with_secret_key(create=False).secret_key == ""
    assert not (tmp_path / "data").exists()
    stored = config.with_secret_key().secret_key
    assert config.with_secret_key(create=False).secret_key == stored


def test_a_configured_secret_key_is_not_written_to_disk(tmp_path):
    config = settings(ALOFT_DATA_DIR=str(tmp_path / "data"), ALOFT_SECRET_KEY="k" * 20).with_secret_key()
    assert config.secret_key == "k" * 20
    assert not (tmp_path / "data" / "secret_key").exists()


def test_the_default_base_url_names_the_port_aloft_up_binds():
    assert settings(ALOFT_PORT="9000").base_url == "http://localhost:9000"


@pytest.mark.parametrize("base_url", ["https://status.example.com", "http://localhost:8000"])
def test_a_base_url_that_is_set_stays_whatever_the_port(base_url):
    assert settings(ALOFT_BASE_URL=base_url, ALOFT_PORT="9000").base_url == base_url


def test_an_unwritable_data_dir_is_an_error_naming_the_setting(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^ALOFT_DATA_DIR: cannot create .*: Not a directory"):
        settings(ALOFT_DATA_DIR=str(blocker / "data")).with_secret_key()


def test_the_readme_documents_every_setting_in_one_table():
    documented = set(re.findall(r"^\| `(ALOFT_[A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert documented == set(SETTINGS)
