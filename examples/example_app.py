"""A Celery app that executes what schedules/example.yaml publishes: one task for every task name
the example's entries use, and the worker command that consumes every queue the example routes to
(celery by default, reports for reports.*, billing for billing.charge, ops for the backup).

Run it from this directory, beside `beat run --config schedules/example.yaml`:

    /usr/bin/python3 -m celery -A example_app worker -Q celery,reports,billing,ops -E --loglevel INFO

The broker is $CELERY_BROKER_URL, as for tsbeat, else the Redis on 127.0.0.1:6379, DB 0, which
the example's broker.url names. Each task only logs what it was given.
"""
import os

from celery import Celery
from celery.utils.log import get_task_logger

app = Celery('example_app', broker=os.environ.get('CELERY_BROKER_URL', 'redis://127.0.0.1:6379/0'))
log = get_task_logger(__name__)


@app.task(name='tasks.add')
def add(x, y):
    return x + y


@app.task(name='reports.weekly')
def weekly_report(format='pdf'):
    log.info('weekly report as %s', format)
    return format


@app.task(name='ops.backup')
def backup():
    log.info('backing up')


@app.task(name='tasks.sync')
def sync():
    log.info('syncing')


@app.task(name='garden.open_shutters')
def open_shutters():
    log.info('opening the shutters')


@app.task(name='billing.charge')
def charge():
    log.info('charging cards')


@app.task(name='tasks.greet')
def greet():
    log.info('happy new year')


@app.task(name='tasks.experiment')
def experiment():
    log.info('experimenting')
