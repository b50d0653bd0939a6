"""The sandbox payment platform over real HTTP, checked against docs/sandbox.md."""

import csv
import io
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from channels.sandbox_server import serve_in_thread, signing
from tests.sandbox_fixtures import RunningSandbox, platform_signature_ok


def _order(out_trade_no: str, amount: str = "12.30", currency: str = "CNY", **extra) -> dict:
    return {"out_trade_no": out_trade_no, "amount": amount, "currency": currency, "subject": "Tea", **extra}


def _pay(merchant, receiver, out_trade_no: str, amount: str = "100.00", **behaviour) -> dict:
    body = _order(
        out_trade_no, amount, notify_url=receiver.url, behaviour={"outcome": "succeed", **behaviour}
    )
    trade_no = merchant.post("/v1/payments", body).json()["trade_no"]
    _wait_status(merchant, trade_no, {"succeeded", "authorized"})
    return merchant.get(f"/v1/payments/{trade_no}").json()


def _wait_status(merchant, trade_no: str, wanted: set[str], timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payment = merchant.get(f"/v1/payments/{trade_no}").json()
        if payment["status"] in wanted:
            return payment
        time.sleep(0.03)
    raise AssertionError(f"{trade_no} stayed {payment['status']}")


# Keys and signatures ------------------------------------------------------------------


def test_registration_returns_a_merchant_id_and_the_platform_key(sandbox):
    platform = requests.get(f"{sandbox.url}/v1/platform-key", timeout=5).json()["public_key"]

    merchant = sandbox.register_merchant()

    assert merchant.merchant_id.startswith("2088")
    assert merchant.platform_public_key == platform
    bad = requests.post(f"{sandbox.url}/v1/merchants", json={"name": "x", "public_key": "nope"}, timeout=5)
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_PUBLIC_KEY")


def test_requests_with_a_wrong_or_stale_signature_or_unknown_merchant_are_refused(sandbox):
    merchant, other = sandbox.register_merchant(), sandbox.register_merchant("Other")
    body = _order("PAY-SIG")

    tampered = merchant.post("/v1/payments", body, sign_body=b'{"amount": "0.01"}')
    stale = merchant.post("/v1/payments", body, timestamp=int(time.time()) - 301)
    merchant.merchant_id, real_id = "2088000000000000", merchant.merchant_id
    unknown = merchant.post("/v1/payments", body)
    merchant.merchant_id = other.merchant_id  # B's id, A's key
    wrong_key = merchant.post("/v1/payments", body)
    unsigned = requests.post(f"{sandbox.url}/v1/payments", json=body, headers={"X-Sandbox-Merchant": real_id})

    assert [(r.status_code, r.json()["code"]) for r in (tampered, stale, unknown, wrong_key, unsigned)] == [
        (401, "INVALID_SIGNATURE"),
        (401, "TIMESTAMP_EXPIRED"),
        (401, "INVALID_MERCHANT"),
        (401, "INVALID_SIGNATURE"),
        (401, "INVALID_SIGNATURE"),
    ]
    merchant.merchant_id = real_id
    assert merchant.post("/v1/payments", body, timestamp=int(time.time()) - 290).status_code == 200


def test_responses_verify_with_the_platform_key_only(sandbox):
    merchant = sandbox.register_merchant()

    reply = merchant.post("/v1/payments", _order("PAY-RESP"))
    error = merchant.get("/v1/payments/SBX-missing")

    assert platform_signature_ok(merchant.platform_public_key, reply.headers, reply.content)
    assert platform_signature_ok(merchant.platform_public_key, error.headers, error.content)
    assert not platform_signature_ok(merchant.platform_public_key, reply.headers, reply.content + b" ")
    own_key = signing.public_key_pem(merchant.private_key)
    assert not platform_signature_ok(own_key, reply.headers, reply.content)


def test_signing_helpers_match_the_contract(sandbox):
    merchant = sandbox.register_merchant()
    path = "/v1/payments?out_trade_no=PAY-H"

    headers = signing.request_headers(
        merchant_id=merchant.merchant_id, private_key=merchant.private_key, method="GET", path=path
    )
    reply = requests.get(sandbox.url + path, headers=headers, timeout=5)

    assert reply.json()["code"] == "TRADE_NOT_FOUND"  # signature accepted; the trade just is not there
    assert signing.verify_response(
        merchant.platform_public_key,
        timestamp=reply.headers["X-Sandbox-Timestamp"],
        body=reply.content,
        signature=reply.headers["X-Sandbox-Signature"],
    )


# Payments -----------------------------------------------------------------------------


def test_create_query_close_and_idempotent_create(sandbox):
    merchant, other = sandbox.register_merchant(), sandbox.register_merchant("Other")

    created = merchant.post("/v1/payments", _order("PAY-1", return_url="http://shop.test/done")).json()
    again = merchant.post("/v1/payments", _order("PAY-1")).json()
    clash = merchant.post("/v1/payments", _order("PAY-1", amount="12.31"))
    by_no = merchant.get(f"/v1/payments/{created['trade_no']}").json()
    by_out = merchant.get("/v1/payments?out_trade_no=PAY-1").json()

    assert created["status"] == "pending" and created["trade_no"].startswith("SBX")
    assert created["checkout_url"] == f"{sandbox.url}/checkout/{created['trade_no']}"
    assert again["trade_no"] == created["trade_no"]
    assert (clash.status_code, clash.json()["code"]) == (409, "DUPLICATE_OUT_TRADE_NO")
    assert by_no == by_out
    assert by_no["amount"] == "12.30" and by_no["paid_amount"] is None and by_no["refunded_amount"] == "0.00"
    assert other.get(f"/v1/payments/{created['trade_no']}").status_code == 404
    assert merchant.get("/v1/payments?out_trade_no=nope").json()["code"] == "TRADE_NOT_FOUND"

    closed = merchant.post(f"/v1/payments/{created['trade_no']}/close")
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    assert merchant.post(f"/v1/payments/{created['trade_no']}/close").status_code == 200


def test_an_unpaid_payment_closes_when_it_expires(sandbox, receiver):
    merchant = sandbox.register_merchant()
    created = merchant.post(
        "/v1/payments", _order("PAY-EXP", notify_url=receiver.url, expire_seconds=1)
    ).json()

    closed = _wait_status(merchant, created["trade_no"], {"closed"}, timeout=3)
    late = requests.post(f"{created['checkout_url']}/pay", timeout=5)

    assert closed["paid_at"] is None
    assert "closed" in late.text
    assert merchant.get(f"/v1/payments/{created['trade_no']}").json()["status"] == "closed"
    assert receiver.received == []


def test_method_specific_fields_and_amount_validation(sandbox):
    merchant = sandbox.register_merchant()

    native = merchant.post("/v1/payments", _order("PAY-N", method="native")).json()
    app = merchant.post("/v1/payments", _order("PAY-A", method="app")).json()
    yen = merchant.post("/v1/payments", _order("PAY-Y", amount="1000", currency="JPY"))

    assert native["qr_code"] == f"sandbox://pay/{native['trade_no']}" and "sdk_params" not in native
    assert app["sdk_params"]["trade_no"] == app["trade_no"] and "qr_code" not in app
    assert yen.status_code == 200
    for amount, currency in [(12.3, "CNY"), ("12.345", "CNY"), ("10.5", "JPY"), ("-1", "CNY"), ("0", "CNY")]:
        reply = merchant.post("/v1/payments", _order("PAY-BAD", amount=amount, currency=currency))
        assert (reply.status_code, reply.json()["code"]) == (400, "INVALID_AMOUNT"), amount
    assert (
        merchant.post("/v1/payments", _order("PAY-BAD", currency="XXX")).json()["code"] == "INVALID_CURRENCY"
    )


def test_succeed_sends_notify_times_signed_notifications(sandbox, receiver):
    merchant = sandbox.register_merchant()
    body = _order("PAY-OK", notify_url=receiver.url, behaviour={"outcome": "succeed", "notify_times": 3})

    trade_no = merchant.post("/v1/payments", body).json()["trade_no"]
    notes = receiver.wait_for(3)
    time.sleep(0.3)

    assert len(receiver.received) == 3
    assert {n.json["notify_id"] for n in notes} == {notes[0].json["notify_id"]}
    first = notes[0].json
    assert first["event"] == "payment.succeeded" and first["trade_no"] == trade_no
    assert (first["out_trade_no"], first["amount"], first["currency"]) == ("PAY-OK", "12.30", "CNY")
    assert all(platform_signature_ok(merchant.platform_public_key, n.headers, n.body) for n in notes)
    payment = merchant.get(f"/v1/payments/{trade_no}").json()
    assert payment["status"] == "succeeded" and payment["paid_at"] == first["paid_at"]
    assert payment["fee"] == "0.07"  # 0.6 % of 12.30 = 0.0738


def test_fail_sends_a_failed_notification(sandbox, receiver):
    merchant = sandbox.register_merchant()
    body = _order("PAY-FAIL", notify_url=receiver.url, behaviour={"outcome": "fail"})

    trade_no = merchant.post("/v1/payments", body).json()["trade_no"]
    (note,) = receiver.wait_for(1)

    assert (note.json["event"], note.json["status"]) == ("payment.failed", "failed")
    assert merchant.get(f"/v1/payments/{trade_no}").json()["status"] == "failed"
    assert merchant.post(f"/v1/payments/{trade_no}/close").json()["code"] == "TRADE_FAILED"


def test_never_notify_settles_after_the_delay_silently(sandbox, receiver):
    merchant = sandbox.register_merchant()
    body = _order(
        "PAY-SILENT", notify_url=receiver.url, behaviour={"outcome": "never_notify", "delay_ms": 300}
    )

    trade_no = merchant.post("/v1/payments", body).json()["trade_no"]
    right_away = merchant.get(f"/v1/payments/{trade_no}").json()["status"]
    later = _wait_status(merchant, trade_no, {"succeeded"})
    time.sleep(0.5)

    assert right_away == "pending"
    assert later["paid_amount"] == "12.30"
    assert receiver.received == []


def test_timeout_executes_but_holds_the_answer(sandbox, receiver):
    merchant = sandbox.register_merchant()
    body = _order("PAY-SLOW", notify_url=receiver.url, behaviour={"outcome": "timeout", "timeout_ms": 1500})

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        merchant.post("/v1/payments", body, timeout=0.5)
    # The held answer blocks nobody: the query comes back while it is still held.
    payment = merchant.get("/v1/payments?out_trade_no=PAY-SLOW").json()

    assert time.monotonic() - started < 1.5
    assert payment["status"] == "succeeded"
    time.sleep(0.3)
    assert receiver.received == []


def test_paid_amount_mismatch_shows_in_notification_and_query(sandbox, receiver):
    merchant = sandbox.register_merchant()
    behaviour = {"outcome": "succeed", "paid_amount": "10.00"}

    trade_no = merchant.post(
        "/v1/payments", _order("PAY-MIS", notify_url=receiver.url, behaviour=behaviour)
    ).json()["trade_no"]
    (note,) = receiver.wait_for(1)

    assert note.json["amount"] == "10.00"
    payment = merchant.get(f"/v1/payments/{trade_no}").json()
    assert (payment["amount"], payment["paid_amount"]) == ("12.30", "10.00")


def test_notifications_are_retried_until_success(sandbox, receiver):
    merchant = sandbox.register_merchant()
    receiver.replies = [(500, "oops"), (200, "fail")]

    merchant.post(
        "/v1/payments", _order("PAY-RETRY", notify_url=receiver.url, behaviour={"outcome": "succeed"})
    )
    notes = receiver.wait_for(3, timeout=6)
    time.sleep(0.3)

    assert len(receiver.received) == 3
    assert len({n.json["notify_id"] for n in notes}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(notes)]
    assert 0.9 < gaps[0] < 1.8 and 1.9 < gaps[1] < 2.8, gaps


def test_capture_and_void_of_authorizations(sandbox, receiver):
    merchant = sandbox.register_merchant()

    body = _order(
        "PAY-AUTH", "100.00", notify_url=receiver.url, capture=False, behaviour={"outcome": "succeed"}
    )
    trade_no = merchant.post("/v1/payments", body).json()["trade_no"]
    held = _wait_status(merchant, trade_no, {"authorized"})
    (note,) = receiver.wait_for(1)
    too_much = merchant.post(f"/v1/payments/{trade_no}/capture", {"amount": "100.01"})
    closing = merchant.post(f"/v1/payments/{trade_no}/close")
    captured = merchant.post(f"/v1/payments/{trade_no}/capture", {"amount": "40.00"}).json()
    twice = merchant.post(f"/v1/payments/{trade_no}/capture", {"amount": "40.00"})

    assert note.json["event"] == "payment.authorized"
    assert (held["captured_amount"], held["fee"]) == ("0.00", "0.00")
    assert too_much.json()["code"] == "CAPTURE_EXCEEDS_AUTHORIZATION"
    assert (closing.status_code, closing.json()["code"]) == (409, "TRADE_ALREADY_PAID")
    assert (captured["status"], captured["captured_amount"], captured["fee"]) == (
        "succeeded",
        "40.00",
        "0.24",
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "NOT_AUTHORIZED")

    other = merchant.post("/v1/payments", {**body, "out_trade_no": "PAY-AUTH-2"}).json()["trade_no"]
    _wait_status(merchant, other, {"authorized"})
    assert merchant.post(f"/v1/payments/{other}/void").json()["status"] == "closed"
    assert merchant.post(f"/v1/payments/{other}/capture").json()["code"] == "NOT_AUTHORIZED"
    pending = merchant.post("/v1/payments", _order("PAY-AUTH-3")).json()["trade_no"]
    assert merchant.post(f"/v1/payments/{pending}/void").json()["code"] == "NOT_AUTHORIZED"


# Refunds ------------------------------------------------------------------------------


def test_refunds_partial_repeated_exceeding_and_notified(sandbox, receiver):
    merchant = sandbox.register_merchant()
    trade_no = _pay(merchant, receiver, "PAY-R")["trade_no"]
    receiver.wait_for(1)

    def refund(out_refund_no, amount, **extra):
        return merchant.post(
            "/v1/refunds", {"trade_no": trade_no, "out_refund_no": out_refund_no, "amount": amount, **extra}
        )

    first = refund("R1", "30.00").json()
    repeat = refund("R1", "30.00").json()
    exceeding = refund("R2", "70.01")
    failed = refund("R3", "70.00", behaviour={"outcome": "fail"}).json()
    rest = refund("R4", "70.00").json()
    nothing_left = refund("R5", "0.01")

    assert first["status"] == "succeeded" and first["refund_no"].startswith("SBR")
    assert repeat == first
    assert (exceeding.status_code, exceeding.json()["code"]) == (409, "REFUND_EXCEEDS_PAYMENT")
    assert failed["status"] == "failed"
    assert rest["status"] == "succeeded"
    assert nothing_left.json()["code"] == "REFUND_EXCEEDS_PAYMENT"
    assert merchant.get(f"/v1/payments/{trade_no}").json()["refunded_amount"] == "100.00"
    assert merchant.get(f"/v1/refunds/R1?trade_no={trade_no}").json() == first
    assert merchant.get("/v1/refunds/R9").json()["code"] == "REFUND_NOT_FOUND"

    notes = receiver.wait_for(3)
    refund_notes = sorted((n.json for n in notes[1:]), key=lambda n: n["out_refund_no"])
    assert [(n["event"], n["out_refund_no"], n["refund_amount"]) for n in refund_notes] == [
        ("refund.succeeded", "R1", "30.00"),
        ("refund.succeeded", "R4", "70.00"),
    ]
    assert refund_notes[0]["refund_no"] == first["refund_no"]


def test_concurrent_refunds_never_exceed_the_payment(sandbox, receiver):
    merchant = sandbox.register_merchant()
    trade_no = _pay(merchant, receiver, "PAY-RC", "30.00")["trade_no"]

    def refund(i):
        body = {"trade_no": trade_no, "out_refund_no": f"RC{i}", "amount": "3.00"}
        return merchant.post("/v1/refunds", body).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(refund, range(20)))

    assert (codes.count(200), codes.count(409)) == (10, 10)
    assert merchant.get(f"/v1/payments/{trade_no}").json()["refunded_amount"] == "30.00"


def test_refund_of_an_unpaid_trade_and_refund_timeout(sandbox, receiver):
    merchant = sandbox.register_merchant()
    pending = merchant.post("/v1/payments", _order("PAY-U")).json()["trade_no"]
    trade_no = _pay(merchant, receiver, "PAY-RT")["trade_no"]
    receiver.wait_for(1)

    unpaid = merchant.post("/v1/refunds", {"trade_no": pending, "out_refund_no": "U1", "amount": "1.00"})
    body = {
        "trade_no": trade_no,
        "out_refund_no": "T1",
        "amount": "5.00",
        "behaviour": {"outcome": "timeout"},
    }
    body["behaviour"]["timeout_ms"] = 1500
    with pytest.raises(requests.exceptions.ReadTimeout):
        merchant.post("/v1/refunds", body, timeout=0.5)

    assert (unpaid.status_code, unpaid.json()["code"]) == (409, "TRADE_NOT_PAID")
    assert merchant.get(f"/v1/refunds/T1?trade_no={trade_no}").json()["status"] == "succeeded"
    assert merchant.get(f"/v1/payments/{trade_no}").json()["refunded_amount"] == "5.00"


# Checkout -----------------------------------------------------------------------------


def test_checkout_page_pay_and_decline(sandbox, receiver):
    merchant = sandbox.register_merchant()
    body = _order("PAY-CO", notify_url=receiver.url, return_url="http://shop.test/done?x=1")
    created = merchant.post("/v1/payments", body).json()
    declined = merchant.post("/v1/payments", _order("PAY-CO-2", notify_url=receiver.url)).json()

    page = requests.get(created["checkout_url"], timeout=5)
    paid = requests.post(f"{created['checkout_url']}/pay", allow_redirects=False, timeout=5)
    after = requests.get(created["checkout_url"], timeout=5)
    decline = requests.post(f"{declined['checkout_url']}/decline", timeout=5)

    assert page.status_code == 200 and "12.30 CNY" in page.text
    assert f"action='/checkout/{created['trade_no']}/pay'" in page.text and "/decline'" in page.text
    location = urlsplit(paid.headers["Location"])
    assert paid.status_code == 303 and location.netloc == "shop.test"
    assert parse_qs(location.query) == {
        "x": ["1"],
        "out_trade_no": ["PAY-CO"],
        "trade_no": [created["trade_no"]],
        "status": ["succeeded"],
    }
    assert "no longer payable" in after.text
    assert decline.status_code == 200 and "declined" in decline.text
    events = sorted(n.json["event"] for n in receiver.wait_for(2))
    assert events == ["payment.failed", "payment.succeeded"]
    assert requests.get(f"{sandbox.url}/checkout/SBXnope", timeout=5).status_code == 404


# Statements ---------------------------------------------------------------------------


def test_statement_lists_the_days_money_with_half_up_fees(sandbox, receiver):
    merchant, other = sandbox.register_merchant(), sandbox.register_merchant("Other")
    paid = _pay(merchant, receiver, "PAY-S1", "100.00")
    _pay(merchant, receiver, "PAY-S2", "1.25")  # 0.0075 → 0.01
    _pay(merchant, receiver, "PAY-S3", "1.20", paid_amount="0.75")  # 0.0045 → 0.00, on what was paid
    body = _order(
        "PAY-S4", "250", "JPY", notify_url=receiver.url, capture=False, behaviour={"outcome": "succeed"}
    )
    authorized = merchant.post("/v1/payments", body).json()["trade_no"]
    _wait_status(merchant, authorized, {"authorized"})
    merchant.post(f"/v1/payments/{authorized}/capture", {"amount": "250"})  # 1.5 → 2
    merchant.post("/v1/refunds", {"trade_no": paid["trade_no"], "out_refund_no": "RS1", "amount": "10.00"})
    _pay(other, receiver, "PAY-OTHER", "5.00")
    today = datetime.now(UTC).date()

    reply = merchant.get(f"/v1/statements/{today.isoformat()}")
    empty = merchant.get(f"/v1/statements/{(today - timedelta(days=1)).isoformat()}")

    assert reply.headers["Content-Type"].startswith("text/csv")
    assert platform_signature_ok(merchant.platform_public_key, reply.headers, reply.content)
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    got = sorted(
        (r["out_trade_no"], r["type"], r["amount"], r["fee"], r["currency"], r["out_refund_no"]) for r in rows
    )
    assert got == [
        ("PAY-S1", "payment", "100.00", "0.60", "CNY", ""),
        ("PAY-S1", "refund", "10.00", "0.00", "CNY", "RS1"),
        ("PAY-S2", "payment", "1.25", "0.01", "CNY", ""),
        ("PAY-S3", "payment", "0.75", "0.00", "CNY", ""),
        ("PAY-S4", "capture", "250", "2", "JPY", ""),
    ]
    assert all(r["status"] == "succeeded" and r["settled_at"].startswith(today.isoformat()) for r in rows)
    assert empty.text.strip() == ",".join(
        [
            "trade_no",
            "out_trade_no",
            "type",
            "amount",
            "fee",
            "currency",
            "status",
            "settled_at",
            "out_refund_no",
        ]
    )
    assert merchant.get("/v1/statements/2026-13-01").json()["code"] == "INVALID_DATE"


# Persistence --------------------------------------------------------------------------


def test_a_restart_keeps_keys_merchants_and_payments(tmp_path):
    db = str(tmp_path / "persist.sqlite3")
    first = serve_in_thread(db_path=db)
    try:
        merchant = RunningSandbox(first).register_merchant()
        trade_no = merchant.post("/v1/payments", _order("PAY-P")).json()["trade_no"]
    finally:
        first.stop()

    second = serve_in_thread(db_path=db)
    try:
        merchant.url = second.url
        key = requests.get(f"{second.url}/v1/platform-key", timeout=5).json()["public_key"]
        assert key == merchant.platform_public_key
        assert merchant.get(f"/v1/payments/{trade_no}").json()["status"] == "pending"
    finally:
        second.stop()
