"""A small real Django project with django-celery-beat and the admin, for tsbeat's django source tests.

The database comes from DJANGO_DB_URL (postgres://user@host:port/name or mysql://user@host:port/name);
USE_TZ and TIME_ZONE from DJANGO_USE_TZ ("1"/"0") and DJANGO_TIME_ZONE, so the tests can run both of
Django's datetime modes against the same tables; DJANGO_DB_SCHEMA: a PostgreSQL schema (tenants).
"""
import os
from urllib.parse import unquote, urlparse

SECRET_KEY = 'tsbeat-test-only'
DEBUG = False
ALLOWED_HOSTS = ['*']

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django_celery_beat',
]

MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
]

ROOT_URLCONF = 'proj.urls'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [],
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
            ],
        },
    },
]


def database(url):
    parts = urlparse(url)
    engine = {
        'postgres': 'django.db.backends.postgresql',
        'postgresql': 'django.db.backends.postgresql',
        'mysql': 'django.db.backends.mysql',
    }[parts.scheme]
    return {
        'ENGINE': engine,
        'NAME': parts.path.lstrip('/'),
        'USER': unquote(parts.username or ''),
        'PASSWORD': unquote(parts.password or ''),
        'HOST': parts.hostname or '127.0.0.1',
        'PORT': str(parts.port or ''),
    }


DATABASES = {'default': database(os.environ['DJANGO_DB_URL'])}
# A django-tenants layout without django-tenants: DJANGO_DB_SCHEMA puts the tables (migrate) and the
# ORM's rows in that PostgreSQL schema, as django-tenants' search_path does for a tenant.
if os.environ.get('DJANGO_DB_SCHEMA'):
    DATABASES['default']['OPTIONS'] = {'options': f"-c search_path={os.environ['DJANGO_DB_SCHEMA']}"}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

USE_TZ = os.environ.get('DJANGO_USE_TZ', '1') == '1'
TIME_ZONE = os.environ.get('DJANGO_TIME_ZONE', 'UTC')

STATIC_URL = '/static/'

# Celery (proj/celery.py), for the reference DatabaseScheduler: the broker from the environment.
CELERY_BROKER_URL = os.environ.get('CELERY_BROKER_URL', 'redis://127.0.0.1:6379/15')
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_EXPIRES = None  # no celery.backend_cleanup entry added to the tables
# The reference DatabaseScheduler's tests set 1: write counts after every publish (see test/support/django.ts).
CELERY_BEAT_SYNC_EVERY = int(os.environ.get('CELERY_BEAT_SYNC_EVERY', '0'))
