"""The one error type the sandbox raises; the app renders it as `{"code", "message"}`."""


class SandboxError(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message or code.replace("_", " ").lower()
