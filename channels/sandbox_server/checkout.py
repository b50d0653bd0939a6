"""The hosted checkout page a payer sees: plain HTML forms, no JavaScript needed."""

import html
import time
from urllib.parse import urlencode

from .core import Sandbox
from .payments import settle_at_checkout
from .responses import Response, html_response


def _html(title: str, content: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}button{font-size:1.1em;"
        "margin-right:1em;padding:.4em 1.4em}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{content}</body></html>"
    )


def _order(row) -> str:
    cells = [
        ("Merchant order", row["out_trade_no"]),
        ("Trade", row["trade_no"]),
        ("Subject", row["subject"]),
        ("Amount", f"{row['amount']} {row['currency']}"),
        ("Status", row["status"]),
    ]
    rows = "".join(f"<tr><th align='left'>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in cells)
    return f"<table>{rows}</table>"


def _not_found(trade_no: str) -> Response:
    return html_response(404, _html("Sandbox checkout", f"<p>No trade {html.escape(trade_no)}.</p>"))


def page(sandbox: Sandbox, *, trade_no: str) -> Response:
    row = sandbox.store.one("SELECT * FROM payments WHERE trade_no = ?", (trade_no,))
    if row is None:
        return _not_found(trade_no)
    if row["status"] != "pending":
        return html_response(
            200, _html("Sandbox checkout", _order(row) + "<p>This order is no longer payable.</p>")
        )
    base = f"/checkout/{html.escape(trade_no, quote=True)}"
    forms = (
        f"<form method='post' action='{base}/pay' style='display:inline'>"
        "<button type='submit'>Pay</button></form>"
        f"<form method='post' action='{base}/decline' style='display:inline'>"
        "<button type='submit'>Decline</button></form>"
    )
    return html_response(200, _html("Sandbox checkout", _order(row) + forms))


def submit(sandbox: Sandbox, *, trade_no: str, choice: str, now: float | None = None) -> Response:
    row = settle_at_checkout(sandbox, trade_no=trade_no, paid=choice == "pay", now=now or time.time())
    if row is None:
        return _not_found(trade_no)
    if row["return_url"]:
        # Like a real platform, the payer goes back to the merchant with the ids to look up.
        params = urlencode(
            {"out_trade_no": row["out_trade_no"], "trade_no": row["trade_no"], "status": row["status"]}
        )
        separator = "&" if "?" in row["return_url"] else "?"
        return html_response(303, "", headers={"Location": f"{row['return_url']}{separator}{params}"})
    message = {
        "succeeded": "Payment complete.",
        "authorized": "Payment authorized.",
        "failed": "Payment declined.",
    }
    text = message.get(row["status"], f"The order is {row['status']}.")
    return html_response(200, _html("Sandbox checkout", _order(row) + f"<p>{html.escape(text)}</p>"))
