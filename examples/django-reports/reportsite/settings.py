"""A Django site whose schedules live in tsbeat, the way django-celery-beat's users keep them in the
database: a view creates a per-customer report entry, and `manage.py sync_schedules` makes tsbeat's
entries of this app exactly the ones reports/schedules.py declares (plan, then apply).

Everything deployment-specific comes from the environment:
  DJANGO_DB_URL   postgres://user@host:port/name (the site's own tables)
  TSBEAT_URL      tsbeat's API (beat run --http), e.g. http://beat:9808
  TSBEAT_TOKEN    a token of tsbeat's tokens file that may write
"""
import os
from urllib.parse import unquote, urlparse

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "reports"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "reportsite.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_db = urlparse(os.environ["DJANGO_DB_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": unquote(_db.username or ""),
        "PASSWORD": unquote(_db.password or ""),
        "HOST": _db.hostname or "127.0.0.1",
        "PORT": str(_db.port or ""),
    }
}

TSBEAT_URL = os.environ["TSBEAT_URL"]
TSBEAT_TOKEN = os.environ["TSBEAT_TOKEN"]
# The owner sync_schedules applies as: tsbeat's entries of this name are reports/schedules.py's.
TSBEAT_OWNER = "reportsite"
