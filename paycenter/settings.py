"""Settings from the environment.

With nothing set this is the embedded default: a SQLite file, Celery tasks run eagerly,
a local-memory cache. `DATABASE_URL=postgres://…` and `REDIS_URL=redis://…` switch to
PostgreSQL and Redis (Celery broker and cache).
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-embedded-default-change-me")  # see paycenter.checks
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Fernet keys (comma-separated, newest first) for secrets at rest. Without one, a key is
# derived from SECRET_KEY, which is fine for the embedded default only.
PAYCENTER_ENCRYPTION_KEYS = env_list("PAYCENTER_ENCRYPTION_KEYS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djmoney",
    "import_export",
    "django_fsm",
    "paycenter.apps.PaycenterConfig",
    "accounts",
    "channels",
    "ledger",
    "coupons",
    "orders",
    "reconciliation",
]

MIDDLEWARE = [
    "paycenter.trace.TraceIdMiddleware",
    "paycenter.middleware.ApiEdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "paycenter.urls"
WSGI_APPLICATION = "paycenter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if os.environ.get("TEST_DB_SUFFIX"):
    # Lets several test runs share one server (e.g. a benchmark beside the suite).
    DATABASES["default"]["TEST"] = {"NAME": f"test_paycenter_{os.environ['TEST_DB_SUFFIX']}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves one developer; wait on a locked file instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "paycenter"),
        }
    }
else:
    # One process only (runserver): nonces live here, so never evict them early.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }

# Rate-limit counters (paycenter.ratelimit) get their own alias: same server, short timeouts,
# because a slow limiter must not hold requests up; it fails open where nonces fail closed.
if REDIS_URL:
    CACHES["ratelimit"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("RATE_LIMIT_REDIS_URL", REDIS_URL),
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "paycenter"),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
    }
else:
    CACHES["ratelimit"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "ratelimit",
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# A JSON API only: no form or multipart parsing, errors rendered by one handler.
REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["paycenter.api.auth.AppSignatureAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["paycenter.api.auth.IsMerchantApp"],
    "DEFAULT_SCHEMA_CLASS": "paycenter.api.schema.AppAutoSchema",
    "EXCEPTION_HANDLER": "paycenter.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Paycenter API",
    "DESCRIPTION": (
        "The app API of Paycenter. Every request is signed with the app secret "
        "(X-App-Id, X-Timestamp, X-Nonce, X-Signature); every POST accepts an "
        "Idempotency-Key. Amounts are decimal strings in major units."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the docs work without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Where the kernel finds an app's credentials; accounts provides it (see paycenter.api.auth).
PAYCENTER_APP_CREDENTIALS = "accounts.selectors.app_credentials_get"
# How long a worker keeps an app's credentials (paycenter.memo): a changed secret, a
# disabled app or merchant takes effect within this time.
PAYCENTER_HOT_CACHE_SECONDS = float(os.environ.get("PAYCENTER_HOT_CACHE_SECONDS", "0.5"))
PAYCENTER_SIGNATURE_WINDOW_SECONDS = 300
PAYCENTER_NONCE_TTL_SECONDS = 600
PAYCENTER_IDEMPOTENCY_TTL_SECONDS = 24 * 3600
PAYCENTER_DEFAULT_CURRENCY = "CNY"
# Platform-funded credits above this (major units, in the adjustment's currency) need a
# second finance user's approval.
PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE = os.environ.get("ADJUSTMENT_SECOND_APPROVAL_ABOVE", "1000")
# "count/seconds" per app and per client address (REMOTE_ADDR), by class of endpoint; POSTs
# other than payment creation are "write", GETs "read". Failed signatures (any 401) count
# against the address, and past the limit the address is refused before its signature is
# checked. The defaults sit well above what the benchmarks send (docs/benchmarks.md).
PAYCENTER_RATE_LIMIT_CACHE = "ratelimit"
PAYCENTER_RATE_LIMITS = {
    "payment_create": {
        "app": os.environ.get("RATE_LIMIT_PAYMENT_CREATE_APP", "30000/10"),
        "ip": os.environ.get("RATE_LIMIT_PAYMENT_CREATE_IP", "60000/10"),
    },
    "write": {
        "app": os.environ.get("RATE_LIMIT_WRITE_APP", "30000/10"),
        "ip": os.environ.get("RATE_LIMIT_WRITE_IP", "60000/10"),
    },
    "read": {
        "app": os.environ.get("RATE_LIMIT_READ_APP", "60000/10"),
        "ip": os.environ.get("RATE_LIMIT_READ_IP", "120000/10"),
    },
    "failed_signature": {"ip": os.environ.get("RATE_LIMIT_FAILED_SIGNATURE_IP", "100/60")},
}
ALLOW_PRIVATE_NOTIFY_URLS = env_bool("ALLOW_PRIVATE_NOTIFY_URLS", False)
# Where channels reach us (notify URLs) and where the sandbox platform listens.
PAYCENTER_PUBLIC_URL = os.environ.get("PAYCENTER_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
SANDBOX_CHANNEL_URL = os.environ.get("SANDBOX_CHANNEL_URL", "http://127.0.0.1:8100").rstrip("/")
SANDBOX_CHANNEL_TIMEOUT = float(os.environ.get("SANDBOX_CHANNEL_TIMEOUT", "10"))
WECHATPAY_TIMEOUT = float(os.environ.get("WECHATPAY_TIMEOUT", "10"))  # read timeout, seconds
WECHATPAY_FAKE_URL = os.environ.get("WECHATPAY_FAKE_URL", "").rstrip("/")  # demo only: `make run`'s fake
ALIPAY_FAKE_URL = os.environ.get("ALIPAY_FAKE_URL", "").rstrip("/")  # demo only: `make run`'s fake
# `make run` only: seed_demo points the demo app's notify URL here (manage.py webhook_receiver).
DEMO_NOTIFY_URL = os.environ.get("DEMO_NOTIFY_URL", "").strip()

CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY", "GBP", "KRW", "SGD", "BHD", "KWD")
DEFAULT_CURRENCY = PAYCENTER_DEFAULT_CURRENCY

# Celery: Redis when REDIS_URL is set, otherwise tasks run in-process at once.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# Hot accounts' buffered postings: applied on each commit in the embedded default (no beat
# to sweep them), debounced into a Celery task otherwise.
LEDGER_APPLY_AT_ONCE = env_bool("LEDGER_APPLY_AT_ONCE", not REDIS_URL)
# An order not paid within this long is closed and its stock and coupons released.
ORDER_PAYMENT_TIMEOUT_SECONDS = int(os.environ.get("ORDER_PAYMENT_TIMEOUT_SECONDS", "1800"))
# Reconciliation: how far (minor units) a channel's fee may differ from the contracted rate
# before it is a discrepancy. Amounts themselves must match exactly.
RECON_FEE_TOLERANCE_MINOR = int(os.environ.get("RECON_FEE_TOLERANCE_MINOR", "1"))
# Statement lines stored per transaction: an import killed halfway keeps whole chunks.
RECON_IMPORT_CHUNK_ROWS = int(os.environ.get("RECON_IMPORT_CHUNK_ROWS", "2000"))
OUTBOX_LEASE_SECONDS = int(os.environ.get("OUTBOX_LEASE_SECONDS", "120"))
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "paycenter.tasks.outbox_sweep_task", "schedule": 15.0},
    "idempotency-purge": {"task": "paycenter.tasks.idempotency_purge_task", "schedule": 3600.0},
    "ledger-apply-pending": {"task": "ledger.tasks.ledger_apply_all_pending_task", "schedule": 5.0},
    "holds-expire": {"task": "ledger.tasks.holds_expire_task", "schedule": 30.0},
    "payments-query-due": {"task": "ledger.tasks.payments_query_due_task", "schedule": 5.0},
    "payments-expire": {"task": "ledger.tasks.payments_expire_task", "schedule": 30.0},
    "orders-close-expired": {"task": "orders.tasks.orders_close_expired_task", "schedule": 30.0},
    "coupons-expire": {"task": "coupons.tasks.coupons_expire_task", "schedule": 300.0},
    "ledger-verify-nightly": {
        "task": "ledger.tasks.ledger_verify_task",
        "schedule": crontab(hour=2, minute=30),
    },
    # Channels publish the previous day's statement in the morning (Beijing time).
    "reconcile-yesterday": {
        "task": "reconciliation.tasks.reconcile_yesterday_task",
        "schedule": crontab(hour=3, minute=0),
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"trace_id": {"()": "paycenter.trace.TraceIdFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(trace_id)s] %(name)s: %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["trace_id"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
