"""The project's Celery app, for running django-celery-beat's own DatabaseScheduler as the reference.

    DJANGO_DB_URL=... CELERY_BROKER_URL=redis://... python3 -m celery -A proj beat -S django
"""
import os

from celery import Celery

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')

app = Celery('proj')
app.config_from_object('django.conf:settings', namespace='CELERY')
