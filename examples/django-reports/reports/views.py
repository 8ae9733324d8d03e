"""Per-customer report schedules, kept in tsbeat (where django-celery-beat's users would create a
PeriodicTask): PUT creates or changes the customer's entry, DELETE removes it."""
import json

from celery.schedules import crontab
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tsbeat import EntryInvalid, Tsbeat, UnknownEntry, entry

from .models import Customer
from .tasks import build_report, mail, render


def beat() -> Tsbeat:
    return Tsbeat(settings.TSBEAT_URL, settings.TSBEAT_TOKEN)


@csrf_exempt  # an API for the site's own services; a real site puts its own authentication here
@require_http_methods(["PUT", "DELETE"])
def report_schedule(request: HttpRequest, customer_id: int) -> JsonResponse:
    customer = get_object_or_404(Customer, pk=customer_id)
    name = f"report-customer-{customer.pk}"
    if request.method == "DELETE":
        try:
            beat().delete(name)
        except UnknownEntry:
            pass
        return JsonResponse({"deleted": name})
    asked = json.loads(request.body or b"{}")
    build = build_report.s(customer.pk, asked.get("format", "pdf"))
    if asked.get("queue"):  # a customer's reports may go to workers of their own
        build = build.set(queue=asked["queue"])
    canvas = build | render.s() | mail.s(to=f"customer-{customer.pk}@example.com")
    wanted = entry(
        crontab(minute=0, hour=customer.report_hour),
        canvas,
        labels={"app": "reports", "customer": str(customer.pk)},
        # Not the owner sync_schedules applies as: its apply would otherwise prune these.
        owner="reportsite-customers",
    )
    try:
        stored = beat().put(name, wanted)
    except EntryInvalid as refused:
        return JsonResponse({"error": refused.message, "problems": [p._asdict() for p in refused.problems]}, status=400)
    return JsonResponse({"entry": name, "version": stored.get("version")})
