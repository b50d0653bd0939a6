from ledger.verify import ledger_verify


def assert_ledger_clean():
    report = ledger_verify()
    assert report.clean, "\n".join(report.lines())
