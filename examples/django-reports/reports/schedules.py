"""This app's fixed schedules, written as a Celery beat_schedule is: `manage.py sync_schedules`
makes tsbeat's entries owned by this site exactly these (django-celery-beat users keep the same in
PeriodicTask rows, made by a data migration)."""
from datetime import timedelta

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "reports-digest": {"task": "reports.digest", "schedule": crontab(hour=2, minute=0, day_of_week="mon-fri")},
    "reports-cleanup": {"task": "reports.cleanup", "schedule": timedelta(hours=1), "options": {"queue": "maintenance"}},
}
