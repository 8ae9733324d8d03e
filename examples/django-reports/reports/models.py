from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    # The hour (UTC) the customer's daily report is built.
    report_hour = models.PositiveSmallIntegerField(default=6)
