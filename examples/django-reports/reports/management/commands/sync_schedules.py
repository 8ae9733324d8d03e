"""`manage.py sync_schedules [--dry-run]`: tsbeat's entries owned by this site become exactly
reports/schedules.py's BEAT_SCHEDULE, through plan and apply: the plan is printed, then applied with
its digest, so a change made meanwhile is refused (PlanStale) rather than overwritten."""
from typing import Any, Dict

from celery import signature
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.schedules import BEAT_SCHEDULE
from tsbeat import Tsbeat, TsbeatError, entry


def entries_of(schedule: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    out = {}
    for name, spec in schedule.items():
        sig = signature(spec["task"], args=spec.get("args", ()), kwargs=spec.get("kwargs", {}), options=spec.get("options", {}))
        out[name] = entry(spec["schedule"], sig)
    return out


class Command(BaseCommand):
    help = "Makes tsbeat's entries of this site exactly reports/schedules.py's, by plan and apply."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print the plan, apply nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        beat = Tsbeat(settings.TSBEAT_URL, settings.TSBEAT_TOKEN)
        wanted = entries_of(BEAT_SCHEDULE)
        try:
            plan = beat.plan(settings.TSBEAT_OWNER, wanted)
            counts = plan["counts"]
            self.stdout.write(f"plan: {counts.get('add', 0)} to add, {counts.get('change', 0)} to change, "
                              f"{counts.get('remove', 0)} to remove, {counts.get('unchanged', 0)} unchanged")
            if options["dry_run"]:
                return
            beat.apply(settings.TSBEAT_OWNER, wanted, plan_digest=plan["digest"], note="manage.py sync_schedules")
        except TsbeatError as refused:
            raise CommandError(str(refused)) from refused
        self.stdout.write("applied")
