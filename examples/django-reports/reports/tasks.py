"""The Celery tasks the schedules name (the workers run them; the site only names them)."""
from celery import shared_task


@shared_task(name="reports.build_report")
def build_report(customer_id: int, fmt: str = "pdf") -> str:
    return f"report for customer {customer_id} as {fmt}"


@shared_task(name="reports.render")
def render(report: str) -> str:
    return report.upper()


@shared_task(name="reports.mail")
def mail(rendered: str, to: str = "ops@example.com") -> str:
    return f"sent to {to}"


@shared_task(name="reports.digest")
def digest() -> str:
    return "digest"


@shared_task(name="reports.cleanup")
def cleanup() -> str:
    return "cleaned"
