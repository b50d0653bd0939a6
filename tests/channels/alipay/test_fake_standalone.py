"""The fake platform stands alone, like the sandbox: no Paycenter import anywhere in it."""

import ast
from pathlib import Path

import channels.alipay_server

OURS = {"paycenter", "accounts", "channels", "ledger", "coupons", "orders", "reconciliation", "django"}


def test_the_fake_imports_nothing_of_paycenter():
    for path in Path(channels.alipay_server.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & OURS, f"{path.name} imports {names}"
