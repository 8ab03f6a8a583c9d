"""The app's settings: defaults here, overridden by [tool.velocipy.settings] in pyproject.toml,
then a `.env` file, then `APP_*` environment variables (APP_DATABASE_URL=...)."""

import functools

from velocipy.settings import SecretStr, Settings


class AppSettings(Settings):
    env_prefix = "APP_"

    # sqlite:///./app.db (nothing to install) or postgresql://user:password@host:5432/name;
    # a secret, because a URL may carry a password: it never shows in logs or errors.
    database_url: SecretStr = SecretStr("sqlite:///./app.db")


@functools.cache
def get_settings() -> AppSettings:
    """The settings, read once per process (a bad value stops the start-up with one line)."""
    return AppSettings.load()
