"""The Django side of tests/bench/http_bench.py, run as a subprocess with the stack's
environment (the bench database, Redis db 12, the same keys):

    python -m tests.bench.http_seed seed CREDENTIALS.json OUT.json
        16 customers of the onboarded merchant (the product's own service), each wallet funded
        by an approved adjustment (tests.funding.fund), then the SQL statements of ONE signed
        payment in-process (Django test client) before any load.
    python -m tests.bench.http_seed check EXPECT.json OUT.json
        after the runs: every buffer applied, exactly one succeeded payment per 201 (and none
        that no request asked for), one per pgbench transaction, the money adds up.
"""

import json
import os
import sys
import time
from collections import Counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paycenter.settings")
django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.choices import AccountKind  # noqa: E402
from accounts.models import Account, MerchantApp  # noqa: E402
from accounts.services import customer_get_or_create  # noqa: E402
from ledger.choices import TransactionKind, TransactionStatus  # noqa: E402
from ledger.models import Transaction  # noqa: E402
from ledger.selectors import accounts_with_pending  # noqa: E402
from ledger.services.journal import account_apply_pending  # noqa: E402
from paycenter.celery import app as celery_app  # noqa: E402
from tests.conftest import SignedClient  # noqa: E402
from tests.funding import fund  # noqa: E402

PATH = "/api/v1/payments"
AMOUNT, AMOUNT_MINOR = "1.00", 100
FUNDS = 10**10  # minor units per wallet (100,000,000.00): never the limit of a bench


def seed(credentials: dict, customers: int) -> dict:
    merchant_id = credentials["merchant_id"]
    app = MerchantApp.objects.get(app_id=credentials["app_id"])
    hot = Account.objects.get(merchant_id=merchant_id, kind=AccountKind.MERCHANT_SETTLEMENT)
    wallets = []
    for n in range(customers):  # all wallets first: pgbench draws payers from a contiguous id range
        customer, _ = customer_get_or_create(
            merchant_id=merchant_id, external_id=f"bench-{n}", now=timezone.now()
        )
        wallets.append(customer.accounts.get(currency="CNY").pk)
    if wallets != list(range(wallets[0], wallets[0] + customers)) or hot.pk > wallets[0]:
        sys.exit(f"wallet ids {wallets} are not contiguous above the settlement account {hot.pk}")
    for wallet in wallets:
        fund(account_id=wallet, amount_minor=FUNDS)
    shop = {
        "merchant": merchant_id,
        "app": app.pk,
        "app_id": app.app_id,
        "secret": credentials["secret"],
        "mc": credentials["channels"]["balance"],
        "hot": hot.pk,
        "wallets": wallets,
        "funded": FUNDS * customers,
    }
    shop.update(statements(shop))
    return shop


def statements(shop: dict) -> dict:
    """What one payment asks of PostgreSQL from the web process, and with the after-commit
    tasks (outbox dispatch) run in-process as the Celery worker would run them."""
    api = SignedClient(app_id=shop["app_id"], secret=shop["secret"], client=Client())

    def pay(n: int) -> None:
        order = f"inproc-{n}"
        data = {"out_trade_no": order, "amount": AMOUNT, "subject": "bench", "channel": "balance"}
        data["payer_account_id"] = shop["wallets"][n % len(shop["wallets"])]
        answer = api.post(PATH, data, idempotency_key=f"k-{order}")
        if answer.status_code != 201 or answer.json()["status"] != "succeeded":
            sys.exit(f"in-process payment: {answer.status_code} {answer.content[:300]!r}")

    pay(0)  # imports, connection, caches
    # The debounced buffer apply runs about once a second, not once per payment: not counted.
    cache.set(f"ledger:apply:{shop['hot']}", 1, timeout=60)
    # Read each capture at once: the next request's request_started signal empties the log
    # that captured_queries slices lazily.
    with CaptureQueriesContext(connection) as capture:
        pay(1)
    web = list(capture.captured_queries)
    celery_app.conf.task_always_eager = True
    try:
        with CaptureQueriesContext(connection) as capture:
            pay(2)
        with_tasks = list(capture.captured_queries)
    finally:
        celery_app.conf.task_always_eager = False
    # A yardstick for the machine's state: the web side of a payment, one client, no HTTP.
    started, n = time.process_time(), 20
    for i in range(n):
        pay(3 + i)
    for query in web:  # into django.log, beside the stack's log
        print(f"statement of one payment: {query['sql'][:300]}")
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in web)
    return {
        "statements": len(web),
        "statements_with_tasks": len(with_tasks),
        "statement_kinds": dict(kinds.most_common()),
        "inproc_cpu_ms": (time.process_time() - started) / n * 1e3,
        "inproc": 3 + n,
    }


def check(expect: dict) -> dict:
    """Problems found after the runs; an empty list is a clean run."""
    problems = []
    for account_id in accounts_with_pending():
        account_apply_pending(account_id=account_id)
    payments = Transaction.objects.filter(kind=TransactionKind.PAYMENT)
    pgbench = payments.filter(serial__startswith="PGB")
    ours = payments.exclude(serial__startswith="PGB")
    not_succeeded = ours.exclude(status=TransactionStatus.SUCCEEDED).count()
    if not_succeeded:
        problems.append(f"{not_succeeded} HTTP payments are not succeeded")
    orders = Counter(ours.values_list("out_trade_no", flat=True))
    doubled = [order for order, n in orders.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} order numbers paid more than once, e.g. {doubled[:3]}")
    created, sent = set(expect["created"]), set(expect["sent"])
    missing = created - orders.keys()
    if missing:
        problems.append(f"{len(missing)} answered 201 but not in the database, e.g. {sorted(missing)[:3]}")
    stragglers = orders.keys() - created - {f"inproc-{n}" for n in range(expect["inproc"])}
    unasked = stragglers - sent
    if unasked:
        problems.append(f"{len(unasked)} payments no request asked for, e.g. {sorted(unasked)[:3]}")
    if len(stragglers) > expect["in_flight"]:
        problems.append(
            f"{len(stragglers)} unanswered payments, but only {expect['in_flight']} were in flight"
        )
    if pgbench.count() != expect["pgbench"]:
        problems.append(
            f"{pgbench.count()} pgbench payments in the database, pgbench reported {expect['pgbench']}"
        )
    totals = dict(Account.objects.values_list("pk", "total_minor"))
    held = sum(totals[pk] for pk in expect["wallets"]) + totals[expect["hot"]]
    if held != expect["funded"]:
        problems.append(f"wallets + settlement account = {held}, funded {expect['funded']}")
    if totals[expect["hot"]] != AMOUNT_MINOR * (len(orders) + pgbench.count()):
        problems.append(
            f"settlement account {totals[expect['hot']]} != 1.00 x {len(orders) + pgbench.count()}"
        )
    return {"problems": problems, "http_payments": len(orders), "stragglers": len(stragglers)}


if __name__ == "__main__":
    command, source, target = sys.argv[1:4]
    with open(source) as given_file:
        given = json.load(given_file)
    result = seed(given, int(os.environ.get("BENCH_CUSTOMERS", "16"))) if command == "seed" else check(given)
    with open(target, "w") as out:
        json.dump(result, out)
