"""The Celery project of the tutorial (docs/tutorial.md): two tasks and the beat_schedule that
`celery beat` runs today. tsbeat imports that schedule, carries celery beat's last runs over, and
publishes the same messages to the same worker.

The broker is $CELERY_BROKER_URL, else the Redis on 127.0.0.1:6379, DB 0.
"""
import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

app = Celery('proj', broker=os.environ.get('CELERY_BROKER_URL', 'redis://127.0.0.1:6379/0'))
app.conf.timezone = 'Europe/Berlin'
app.conf.beat_schedule = {
    'add-every-10-seconds': {
        'task': 'proj.add',
        'schedule': timedelta(seconds=10),
        'args': (16, 16),
    },
    'nightly-report': {
        'task': 'proj.report',
        'schedule': crontab(minute=30, hour=2),
        'kwargs': {'format': 'pdf'},
    },
}


@app.task(name='proj.add')
def add(x, y):
    return x + y


@app.task(name='proj.report')
def report(format='pdf'):
    return f'report as {format}'
