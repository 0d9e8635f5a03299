"""Configuration is read once from the environment and checked up front."""

import pytest

from service.config import Config, parse_boolean


def test_defaults_are_the_embedded_service():
    config = Config.from_env({})
    assert config.embedded
    assert config.redis_url is None
    assert config.default_phone_region == "MX"
    assert config.max_content_length == 5 * 1024 * 1024


def test_environment_values_are_read():
    config = Config.from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://u@h/db",
            "DEFAULT_PHONE_REGION": "ar",
            "CARTERAS_TIMEZONE": "America/Argentina/Buenos_Aires",
            "MAX_CONTENT_LENGTH": "1000",
        }
    )
    assert not config.embedded
    assert config.default_phone_region == "AR"
    assert config.max_content_length == 1000


@pytest.mark.parametrize(
    "env",
    [
        {"CARTERAS_TIMEZONE": "Mars/Olympus"},
        {"DEFAULT_PHONE_REGION": "XX"},
        {"MAX_CONTENT_LENGTH": "lots"},
    ],
)
def test_bad_settings_fail_fast(env):
    with pytest.raises(ValueError, match=next(iter(env))):
        Config.from_env(env)


def test_parse_boolean():
    assert parse_boolean("Yes") is True
    assert parse_boolean("0") is False
    assert parse_boolean(None, default=True) is True
    with pytest.raises(ValueError, match="boolean"):
        parse_boolean("maybe")


def test_server_database_needs_a_secret_key():
    from service.app import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Config(database_url="sqlite:///:memory:"))


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_urls_use_the_shipped_driver(given, used):
    assert Config.from_env({"DATABASE_URL": given}).database_url == used
