from django.urls import path

from reports import views

urlpatterns = [path("customers/<int:customer_id>/report-schedule", views.report_schedule)]
