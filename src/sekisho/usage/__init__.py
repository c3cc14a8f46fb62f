"""Usage metering: requests and tokens per tenant, key, alias and UTC day.

    tables.py  UsageDaily, one row per (day, tenant, key, alias, replica)
    meter.py   UsageMeter: counts request-log records in memory, flushes them in batches
    report.py  reading usage back (the CLI's `sekisho usage` and the admin API)

The meter listens to the request-log writer, so it sees exactly the rows the request log
gets and can be reconciled against it. Each replica writes only its own rows (no locking
across replicas); readers sum them.
"""
