"""Describes the request signing in the OpenAPI schema (imported for its side effect)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AppSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "paycenter.api.auth.AppSignatureAuthentication"
    name = "AppSignature"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Signature",
            "description": (
                "hex(HMAC-SHA256(secret, METHOD + '\\n' + PATH_WITH_QUERY + '\\n' + X-Timestamp + "
                "'\\n' + X-Nonce + '\\n' + hex(SHA256(body)))), sent with X-App-Id, X-Timestamp "
                "(unix seconds, ±300 s) and X-Nonce (8..64 chars, single use within 600 s). "
                "Errors: invalid_app, invalid_signature, timestamp_out_of_range, replayed_request."
            ),
        }
